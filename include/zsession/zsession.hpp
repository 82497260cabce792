// zsession/zsession.hpp - everything.
#pragma once

// First: stops a pre-C++20 compile with one clear #error before anything else fails.
#include "zsession/version.hpp"

#include "zsession/buffer.hpp"
#include "zsession/calibrate.hpp"
#include "zsession/codec.hpp"
#include "zsession/compression.hpp"
#include "zsession/copy_policy.hpp"
#include "zsession/curve.hpp"
#include "zsession/error.hpp"
#include "zsession/format.hpp"
#include "zsession/header.hpp"
#include "zsession/large_messages.hpp"
#include "zsession/map_view.hpp"
#include "zsession/message.hpp"
#include "zsession/ndarray.hpp"
#include "zsession/options.hpp"
#include "zsession/placeholder.hpp"
#include "zsession/registry.hpp"
#include "zsession/session.hpp"
#include "zsession/socket_limits.hpp"
#include "zsession/table.hpp"
