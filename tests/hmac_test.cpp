// HMAC against RFC 4231's test vectors, through both paths: the SHA-256 fast path and the
// EVP_MAC path (SHA-512), with the message split across the four signed parts.
#include <doctest/doctest.h>

#include <openssl/hmac.h>

#include <random>

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
