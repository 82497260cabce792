// zsession/zsession.hpp - everything.
#pragma once

#include "zsession/buffer.hpp"
#include "zsession/calibrate.hpp"
#include "zsession/compression.hpp"
#include "zsession/copy_policy.hpp"
#include "zsession/error.hpp"
#include "zsession/header.hpp"
#include "zsession/message.hpp"
#include "zsession/ndarray.hpp"
#include "zsession/options.hpp"
#include "zsession/placeholder.hpp"
#include "zsession/registry.hpp"
#include "zsession/session.hpp"
#include "zsession/table.hpp"
