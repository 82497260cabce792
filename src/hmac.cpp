#include "hmac.hpp"

#include <cstring>
#include <memory>

// The low-level SHA256_* functions are deprecated in OpenSSL 3 in favour of EVP, but remain
// supported through 3.x; they are what lets the HMAC-SHA256 fast path copy a state without
// an allocation. Both paths are checked against RFC 4231 (tests/hmac_test.cpp).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "hex.hpp"
#include "zsession/error.hpp"

namespace zsession::detail {

namespace {

constexpr std::size_t max_digest = EVP_MAX_MD_SIZE;
static_assert(hmac_signer::max_digest_size == EVP_MAX_MD_SIZE);

struct ctx_free {
    void operator()(EVP_MAC_CTX* c) const noexcept { EVP_MAC_CTX_free(c); }
};

/// Calls `update(data, size)` once per run of adjacent parts (the encoder's four maps sit
/// back to back in one string), in order: fewer calls, the same bytes hashed.
template <class Update>
void for_each_run(std::span<const bytes_view> parts, Update update) {
    const std::byte* run = nullptr;
    std::size_t len = 0;
    for (const auto& p : parts) {
        if (p.empty()) continue;
        if (run != nullptr && run + len == p.data()) {
            len += p.size();
            continue;
        }
        if (run != nullptr) update(run, len);
        run = p.data();
        len = p.size();
    }
    if (run != nullptr) update(run, len);
}

}  // namespace

struct hmac_signer::sha256_pads {
    SHA256_CTX inner, outer;  // states after hashing key^ipad and key^opad

    explicit sha256_pads(std::string_view key) {
        unsigned char block[SHA256_CBLOCK] = {};
        if (key.size() > SHA256_CBLOCK) {
            SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), block);
        } else {
            std::memcpy(block, key.data(), key.size());
        }
        unsigned char pad[SHA256_CBLOCK];
        for (std::size_t i = 0; i < SHA256_CBLOCK; ++i) pad[i] = block[i] ^ 0x36;
        SHA256_Init(&inner);
        SHA256_Update(&inner, pad, sizeof pad);
        for (std::size_t i = 0; i < SHA256_CBLOCK; ++i) pad[i] = block[i] ^ 0x5c;
        SHA256_Init(&outer);
        SHA256_Update(&outer, pad, sizeof pad);
        OPENSSL_cleanse(block, sizeof block);
        OPENSSL_cleanse(pad, sizeof pad);
    }
    ~sha256_pads() {
        OPENSSL_cleanse(&inner, sizeof inner);
        OPENSSL_cleanse(&outer, sizeof outer);
    }

    void mac(std::span<const bytes_view> parts, unsigned char* out) const {
        SHA256_CTX c = inner;
        for_each_run(parts, [&c](const std::byte* p, std::size_t n) { SHA256_Update(&c, p, n); });
        unsigned char inner_digest[SHA256_DIGEST_LENGTH];
        SHA256_Final(inner_digest, &c);
        c = outer;
        SHA256_Update(&c, inner_digest, sizeof inner_digest);
        SHA256_Final(out, &c);
        OPENSSL_cleanse(&c, sizeof c);  // a keyed intermediate state
    }
};

hmac_signer::hmac_signer(std::string_view key, std::string_view scheme) {
    constexpr std::string_view prefix = "hmac-";
    if (scheme.substr(0, prefix.size()) != prefix) {
        throw usage_error("unsupported signature scheme '" + std::string(scheme) + "'");
    }
    std::string digest(scheme.substr(prefix.size()));
    std::unique_ptr<EVP_MD, decltype(&EVP_MD_free)> md(
        EVP_MD_fetch(nullptr, digest.c_str(), nullptr), &EVP_MD_free);
    if (!md) throw usage_error("unknown digest in signature scheme '" + std::string(scheme) + "'");
    digest_size_ = static_cast<std::size_t>(EVP_MD_get_size(md.get()));
    if (EVP_MD_is_a(md.get(), "SHA256")) sha256_ = std::make_unique<const sha256_pads>(key);

    std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr),
                                                          &EVP_MAC_free);
    if (!mac) throw usage_error("OpenSSL has no HMAC");
    std::unique_ptr<EVP_MAC_CTX, ctx_free> ctx(EVP_MAC_CTX_new(mac.get()));
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0),
        OSSL_PARAM_construct_end(),
    };
    // An empty key is "unsigned" and never reaches here; OpenSSL rejects zero-length keys.
    if (!ctx || EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()),
                             key.size(), params) != 1) {
        throw usage_error("cannot key HMAC with scheme '" + std::string(scheme) + "'");
    }
    keyed_ = ctx.release();
}

hmac_signer::~hmac_signer() {
    for (EVP_MAC_CTX* c : pool_) EVP_MAC_CTX_free(c);
    EVP_MAC_CTX_free(keyed_);
}

EVP_MAC_CTX* hmac_signer::acquire() const {
    {
        std::lock_guard lock(pool_mutex_);
        if (!pool_.empty()) {
            EVP_MAC_CTX* c = pool_.back();
            pool_.pop_back();
            return c;
        }
    }
    EVP_MAC_CTX* c = EVP_MAC_CTX_dup(keyed_);
    if (!c) throw crypto_error("OpenSSL cannot duplicate the HMAC context");
    return c;
}

void hmac_signer::release(EVP_MAC_CTX* ctx) const noexcept {
    std::lock_guard lock(pool_mutex_);
    try {
        pool_.push_back(ctx);
    } catch (...) {
        EVP_MAC_CTX_free(ctx);
    }
}

void hmac_signer::mac(std::span<const bytes_view> parts, unsigned char* out) const {
    if (sha256_) return sha256_->mac(parts, out);
    std::unique_ptr<EVP_MAC_CTX, ctx_free> ctx(acquire());
    // No key: back to the keyed state (HMAC keeps the key's pads); allocates nothing.
    if (EVP_MAC_init(ctx.get(), nullptr, 0, nullptr) != 1) {
        throw crypto_error("OpenSSL cannot reset the HMAC context");
    }
    for_each_run(parts, [&ctx](const std::byte* p, std::size_t n) {
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(p), n);
    });
    std::size_t len = 0;
    EVP_MAC_final(ctx.get(), out, &len, max_digest);
    release(ctx.release());
}

void hmac_signer::sign_hex(std::span<const bytes_view> parts, char* out) const {
    unsigned char digest[max_digest];
    mac(parts, digest);
    write_hex(digest, digest_size_, out);
}

bool hmac_signer::verify_hex(bytes_view signature, std::span<const bytes_view> parts,
                             unsigned char* digest_out) const {
    if (signature.size() != hex_size()) return false;
    mac(parts, digest_out);
    // The expected hex compared with the received one in constant time (hex, not binary: a
    // received signature in upper case or with a non-hex byte fails as before).
    char expected[2 * max_digest];
    write_hex(digest_out, digest_size_, expected);
    return equal_constant_time(expected, signature.data(), hex_size());
}

}  // namespace zsession::detail
