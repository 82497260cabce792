// src/hmac.hpp (private) - HMAC through OpenSSL's EVP_MAC, keyed once, duplicated per use.
#pragma once

#include <cstddef>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

    static constexpr std::size_t max_digest_size = 64;  // EVP_MAX_MD_SIZE

    std::size_t digest_size() const noexcept { return digest_size_; }
    /// Length of the hex signature (2 x digest size).
    std::size_t hex_size() const noexcept { return 2 * digest_size_; }
    /// Writes the lower-case hex MAC of the concatenation of `parts` to out[0, hex_size()).
    void sign_hex(std::span<const bytes_view> parts, char* out) const;
    /// Constant-time check of `signature` (exact length first) against the parts' MAC; the
    /// raw MAC is left in digest_out[0, digest_size()) when the length is right.
    bool verify_hex(bytes_view signature, std::span<const bytes_view> parts,
                    unsigned char* digest_out) const;

  private:
    struct sha256_pads;  // the fast path's precomputed states (hmac.cpp)

    void mac(std::span<const bytes_view> parts, unsigned char* out) const;
    EVP_MAC_CTX* acquire() const;  // a working context (its state is reset before use)
    void release(EVP_MAC_CTX* ctx) const noexcept;

    EVP_MAC_CTX* keyed_ = nullptr;
    std::size_t digest_size_ = 0;
    // HMAC-SHA256, Jupyter's scheme, skips EVP's per-use context copies (each one allocates,
    // copies through the provider and cleanses): the inner and outer SHA-256 states after
    // the key's pads are computed once here and copied as plain structs per message, into
    // the same SHA-NI/AVX code. Null for other digests, which use keyed_. Read-only.
    std::unique_ptr<const sha256_pads> sha256_;
    // Working contexts, reused: re-initialising one to the keyed state copies the
    // precomputed inner/outer pads and allocates nothing, where a dup per message costs an
    // allocation, a copy and a cleanse. Thread safety: the pool is guarded by pool_mutex_;
    // a context is used by one thread at a time; keyed_ is never written after the
    // constructor.
    mutable std::mutex pool_mutex_;
    mutable std::vector<EVP_MAC_CTX*> pool_;
};

}  // namespace zsession::detail
