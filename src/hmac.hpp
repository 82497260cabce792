// src/hmac.hpp (private) - HMAC through OpenSSL's EVP_MAC, keyed once, duplicated per use.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "zsession/buffer.hpp"

typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace zsession::detail {

class hmac_signer {
  public:
    /// `scheme` is "hmac-<digest>". Throws usage_error for an unknown digest.
    hmac_signer(std::string_view key, std::string_view scheme);
    ~hmac_signer();
    hmac_signer(const hmac_signer&) = delete;
    hmac_signer& operator=(const hmac_signer&) = delete;

    /// Length of the hex signature (2 x digest size).
    std::size_t hex_size() const noexcept { return 2 * digest_size_; }
    /// Lower-case hex MAC of the concatenation of `parts`. Thread-safe: duplicates the keyed
    /// template state, never writes it.
    std::string sign_hex(std::span<const bytes_view> parts) const;
    /// Constant-time check of `signature` (exact length first) against the parts' MAC.
    bool verify_hex(bytes_view signature, std::span<const bytes_view> parts) const;

  private:
    void mac(std::span<const bytes_view> parts, unsigned char* out) const;

    EVP_MAC_CTX* keyed_ = nullptr;
    std::size_t digest_size_ = 0;
};

}  // namespace zsession::detail
