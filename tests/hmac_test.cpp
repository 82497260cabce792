// HMAC against RFC 4231's test vectors, through both paths: the SHA-256 fast path and the
// EVP_MAC path (SHA-512), with the message split across the four signed parts.
#include <doctest/doctest.h>

#include <openssl/hmac.h>

#include <cctype>
#include <cstdio>
#include <random>
#include <vector>

#include "../src/hex.hpp"
#include "../src/hmac.hpp"

using zsession::bytes_view;
using zsession::detail::hmac_signer;

namespace {

std::string sign(const hmac_signer& h, std::string_view data, std::size_t cut1, std::size_t cut2) {
    const std::array<bytes_view, 4> parts{bytes_view(data.substr(0, cut1)),
                                          bytes_view(data.substr(cut1, cut2 - cut1)),
                                          bytes_view(data.substr(cut2)), bytes_view()};
    std::string out(h.hex_size(), '\0');
    h.sign_hex(parts, out.data());
    return out;
}

struct vector {
    std::string key, data, sha256, sha512;
};

const vector rfc4231[] = {
    {std::string(20, '\x0b'), "Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
     "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f"
     "4"
     "e4be9d914eeb61f1702e696c203a126854"},
    {"Jefe", "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
     "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e"
     "6"
     "fdcaeab1a34d4a6b4b636e070a38bce737"},
    {std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
     "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1"
     "e"
     "5295e64f73f63f0aec8b915a985d786598"},
};

}  // namespace

TEST_CASE("RFC 4231 vectors, whatever the split of the message across parts") {
    for (const auto& v : rfc4231) {
        const hmac_signer s256(v.key, "hmac-sha256"), s512(v.key, "hmac-sha512");
        for (std::size_t cut1 = 0; cut1 <= v.data.size(); cut1 += 3) {
            const std::size_t cut2 = (cut1 + v.data.size()) / 2;
            CHECK(sign(s256, v.data, cut1, cut2) == v.sha256);
            CHECK(sign(s512, v.data, cut1, cut2) == v.sha512);
        }
    }
}

TEST_CASE("the SHA-256 fast path equals OpenSSL's one-shot HMAC for keys of every length") {
    std::mt19937 rng(3);
    for (std::size_t key_size = 1; key_size < 200; key_size += 7) {
        std::string key(key_size, '\0'), data(rng() % 700, '\0');
        for (auto& c : key) c = static_cast<char>(rng());
        for (auto& c : data) c = static_cast<char>(rng());
        unsigned char expected[32];
        unsigned int len = 0;
        HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), expected, &len);
        const hmac_signer s(key, "hmac-sha256");
        std::string got = sign(s, data, data.size() / 3, data.size() / 2);
        unsigned char digest[hmac_signer::max_digest_size];
        const std::array<bytes_view, 4> parts{bytes_view(data), {}, {}, {}};
        CHECK(s.verify_hex(bytes_view(got), parts, digest));
        CHECK(std::memcmp(digest, expected, 32) == 0);
        got[5] = got[5] == '0' ? '1' : '0';
        CHECK_FALSE(s.verify_hex(bytes_view(got), parts, digest));
    }
}

TEST_CASE("the SHA-256 fast path at every message length around the block edges") {
    // Lengths that leave 0-63 bytes pending for the final block, with and without a second
    // padding block (55, 56 and 64 are the edges), split across parts.
    const std::string key = "a key of twenty-five bytes";
    const hmac_signer s(key, "hmac-sha256");
    std::string data;
    for (std::size_t n = 0; n <= 200; ++n) {
        unsigned char expected[32];
        unsigned int len = 0;
        HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), expected, &len);
        unsigned char digest[hmac_signer::max_digest_size];
        const std::array<bytes_view, 4> parts{bytes_view(data), {}, {}, {}};
        const std::string hex = sign(s, data, n / 4, n / 2);
        REQUIRE(s.verify_hex(bytes_view(hex), parts, digest));
        CHECK(std::memcmp(digest, expected, 32) == 0);
        data.push_back(static_cast<char>('a' + n % 26));
    }
}

TEST_CASE("verify_hex rejects a signature that differs in its first, a middle or its last byte") {
    const std::string data = "header parent metadata content";
    const std::array<bytes_view, 4> parts{bytes_view(data), {}, {}, {}};
    for (const char* scheme : {"hmac-sha256", "hmac-sha512", "hmac-sha1"}) {
        CAPTURE(scheme);
        const hmac_signer s("key", scheme);
        const std::string good = sign(s, data, 5, 10);
        unsigned char digest[hmac_signer::max_digest_size];
        REQUIRE(s.verify_hex(bytes_view(good), parts, digest));
        for (const std::size_t at : {std::size_t{0}, good.size() / 2 - 1, good.size() / 2,
                                     good.size() / 2 + 3, good.size() - 1}) {
            CAPTURE(at);
            for (const char c : {'0', 'f', 'F', 'g', '\0'}) {
                std::string bad = good;
                if (bad[at] == c) continue;
                bad[at] = c;
                CHECK_FALSE(s.verify_hex(bytes_view(bad), parts, digest));
            }
            std::string upper = good;  // hex is compared as text: upper case is another text
            for (auto& ch : upper)
                ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            if (upper != good) CHECK_FALSE(s.verify_hex(bytes_view(upper), parts, digest));
        }
        CHECK_FALSE(s.verify_hex(bytes_view(good.substr(1)), parts, digest));  // length first
        CHECK_FALSE(s.verify_hex(bytes_view(good + "0"), parts, digest));
    }
}

TEST_CASE("write_hex and equal_constant_time at every length") {
    std::mt19937 rng(5);
    for (std::size_t n = 0; n <= 70; ++n) {
        std::vector<unsigned char> in(n);
        for (auto& b : in) b = static_cast<unsigned char>(rng());
        std::string got(2 * n, '?'), expected;
        zsession::detail::write_hex(in.data(), n, got.data());
        for (const unsigned char b : in) {
            char two[3];
            std::snprintf(two, sizeof two, "%02x", b);
            expected += two;
        }
        CHECK(got == expected);
        CHECK(zsession::detail::equal_constant_time(got.data(), expected.data(), got.size()));
        for (std::size_t at = 0; at < got.size(); ++at) {
            std::string bad = got;
            bad[at] ^= 1;
            CHECK_FALSE(zsession::detail::equal_constant_time(bad.data(), got.data(), got.size()));
        }
    }
}
