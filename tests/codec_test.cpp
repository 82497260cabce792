// The codec without sockets: encode, decode, signing, replay.
#include <doctest/doctest.h>

#include <map>

#include "support.hpp"

using namespace zsession;

namespace {

session_options signed_options(std::string key = "secret-key") {
    session_options o;
    o.key = std::move(key);
    o.username = "tester";
    return o;
}

struct request_content {
    std::string code;
    bool silent = false;
    std::vector<int> numbers;
    MSGPACK_DEFINE_MAP(code, silent, numbers)
};

message sample(const session& s) {
    message m = s.make_message("execute_request");
    m.identities = {buffer::take(std::string("engine-7")), buffer::take(std::string("route-2"))};
    m.parent_header = s.make_header("parent_type");
    m.set_metadata(std::map<std::string, int>{{"priority", 3}});
    m.set_content(request_content{"x = 1 + 2", true, {1, 2, 3}});
    m.buffers.push_back(buffer::take(std::vector<double>(10000, 2.5)));  // zero-copy
    m.buffers.push_back(buffer::take(std::string("small")));             // copied
    m.buffers.push_back(buffer::take(std::string()));                    // empty
    return m;
}

}  // namespace

TEST_CASE("encode writes the Jupyter layout") {
    session s(signed_options());
    message m = sample(s);
    frames f = s.encode(m);
    REQUIRE(f.size() == 2 + 1 + 1 + 4 + 3);
    CHECK(test::str(f[0]) == "engine-7");
    CHECK(test::str(f[1]) == "route-2");
    CHECK(test::str(f[2]) == "<IDS|MSG>");
    CHECK(f[3].size() == 64);
    const std::array<bytes_view, 4> parts{
        bytes_view(f[4].data(), f[4].size()), bytes_view(f[5].data(), f[5].size()),
        bytes_view(f[6].data(), f[6].size()), bytes_view(f[7].data(), f[7].size())};
    CHECK(test::str(f[3]) == s.sign(parts));
    CHECK(f[8].size() == 80000);
    CHECK(test::str(f[9]) == "small");
    CHECK(f[10].size() == 0);
}

TEST_CASE("every field survives a round trip") {
    session s(signed_options());
    message m = sample(s);
    message r = s.decode(s.encode(m));
    CHECK(r.identities.size() == 2);
    CHECK(r.identities[0].as_string_view() == "engine-7");
    CHECK(r.header == m.header);
    CHECK(r.parent_header == m.parent_header);
    CHECK(r.header.msg_type == "execute_request");
    CHECK(r.header.username == "tester");
    CHECK(r.header.session == s.id());
    CHECK(r.header.version == "5.3");
    CHECK(r.metadata_as<std::map<std::string, int>>().at("priority") == 3);
    auto c = r.content_as<request_content>();
    CHECK(c.code == "x = 1 + 2");
    CHECK(c.silent);
    CHECK(c.numbers == std::vector<int>{1, 2, 3});
    REQUIRE(r.buffers.size() == 3);
    CHECK(r.buffers[0].view() == m.buffers[0].view());
    CHECK(r.buffers[1].as_string_view() == "small");
    CHECK(r.buffers[2].empty());
}

TEST_CASE("a request has an empty parent written as {}; a reply's parent is the request") {
    session s(signed_options());
    message req = s.make_message("kernel_info_request");
    frames f = s.encode(req);
    CHECK(f[3].size() == 1);  // the msgpack empty map
    CHECK(static_cast<const unsigned char*>(f[3].data())[0] == 0x80);
    message got = s.decode(std::move(f));
    CHECK(got.parent_header.empty());
    message rep = s.make_reply(got, "kernel_info_reply");
    CHECK(rep.parent_header == req.header);
    CHECK(rep.header.msg_id != req.header.msg_id);
    message back = s.decode(s.encode(rep));
    CHECK(back.parent_header.msg_id == req.header.msg_id);
}

TEST_CASE("received buffers are views into the received frames") {
    session s(signed_options());
    message m = sample(s);
    frames f = s.encode(m);
    const void* frame_bytes = f[8].data();
    message r = s.decode(std::move(f));
    CHECK(static_cast<const void*>(r.buffers[0].data()) == frame_bytes);
}

TEST_CASE("the content keeps pointing into its frame after the message moves") {
    session s(signed_options());
    message m = s.make_message("t");
    m.set_content(std::map<std::string, std::string>{{"k", "v"}});  // tiny: inline zmq frame
    message r = s.decode(s.encode(m));
    message moved = std::move(r);
    CHECK(moved.content_as<std::map<std::string, std::string>>().at("k") == "v");
}

TEST_CASE("every tampered byte of every signed frame is rejected") {
    session s(signed_options());
    message m = s.make_message("execute_request");
    m.set_content(std::map<std::string, std::string>{{"code", "print(1)"}});
    const frames good = s.encode(m);
    std::size_t tried = 0;
    for (std::size_t fi = 1; fi < good.size(); ++fi) {  // signature and the four maps
        for (std::size_t bi = 0; bi < good[fi].size(); ++bi) {
            frames bad = test::clone(good);
            static_cast<unsigned char*>(bad[fi].data())[bi] ^= 0x01;
            CAPTURE(fi);
            CAPTURE(bi);
            CHECK_THROWS_AS(s.decode(std::move(bad)), signature_error);
            ++tried;
        }
    }
    CHECK(tried > 200);
    CHECK_NOTHROW(s.decode(test::clone(good)));  // the untouched original still passes
}

TEST_CASE("wrong key, missing signature, wrong length, upper-case hex: signature_error") {
    session s(signed_options("right"));
    session other(signed_options("wrong"));
    message m = s.make_message("t");
    CHECK_THROWS_AS(s.decode(other.encode(m)), signature_error);

    frames f = s.encode(m);
    frames empty = test::clone(f);
    empty[1] = zmq::message_t();
    CHECK_THROWS_WITH_AS(s.decode(std::move(empty)), "unsigned message", signature_error);

    frames longer = test::clone(f);
    longer[1] = test::frame(test::str(f[1]) + "0");
    CHECK_THROWS_WITH_AS(s.decode(std::move(longer)), "signature has the wrong length",
                         signature_error);

    frames upper = test::clone(f);
    std::string sig = test::str(f[1]);
    for (auto& c : sig) c = static_cast<char>(std::toupper(c));
    upper[1] = test::frame(sig);
    CHECK_THROWS_AS(s.decode(std::move(upper)), signature_error);
}

TEST_CASE("a replayed message is rejected; a fresh one still passes") {
    session s(signed_options());
    const frames f = s.encode(s.make_message("t"));
    CHECK_NOTHROW(s.decode(test::clone(f)));
    CHECK_THROWS_AS(s.decode(test::clone(f)), replay_error);
    CHECK_THROWS_AS(s.decode(test::clone(f)),
                    signature_error);  // replay_error is-a signature_error
    CHECK_NOTHROW(s.decode(s.encode(s.make_message("t"))));
}

TEST_CASE("the replay history is bounded: the oldest signature is forgotten") {
    session_options o = signed_options();
    o.replay_history = 3;
    session s(o);
    std::vector<frames> sent;
    for (int i = 0; i < 4; ++i) sent.push_back(s.encode(s.make_message("t")));
    for (auto& f : sent) CHECK_NOTHROW(s.decode(test::clone(f)));
    CHECK_NOTHROW(s.decode(test::clone(sent[0])));  // forgotten after 3 newer ones
    CHECK_THROWS_AS(s.decode(test::clone(sent[3])), replay_error);
}

TEST_CASE("an unsigned session writes an empty signature and checks none") {
    session s(session_options{});
    frames f = s.encode(s.make_message("t"));
    CHECK(f[1].size() == 0);
    frames forged = test::clone(f);
    forged[1] = test::frame("anything");
    CHECK_NOTHROW(s.decode(std::move(forged)));
    CHECK_NOTHROW(s.decode(test::clone(f)));  // no replay history when unsigned
    CHECK_NOTHROW(s.decode(std::move(f)));
}

TEST_CASE("other hmac digests work; unknown schemes are a usage_error") {
    session_options o = signed_options();
    o.signature_scheme = "hmac-sha512";
    session s(o);
    frames f = s.encode(s.make_message("t"));
    CHECK(f[1].size() == 128);
    CHECK_NOTHROW(s.decode(std::move(f)));
    o.signature_scheme = "hmac-nonsense";
    CHECK_THROWS_AS(session{o}, usage_error);
    o.signature_scheme = "rsa-sha256";
    CHECK_THROWS_AS(session{o}, usage_error);
}

TEST_CASE("copy_threshold decides per buffer: threshold - 1 copied, threshold and + 1 shared") {
    session_options o = signed_options();
    o.copy_threshold = 1000;
    session s(o);
    message m = s.make_message("t");
    for (std::size_t n : {std::size_t{999}, std::size_t{1000}, std::size_t{1001}}) {
        m.buffers.push_back(buffer::take(std::vector<char>(n, 'b')));
    }
    frames f = s.encode(m);
    REQUIRE(f.size() == 9);
    CHECK(f[6].data() != static_cast<const void*>(m.buffers[0].data()));
    CHECK(f[7].data() == static_cast<const void*>(m.buffers[1].data()));
    CHECK(f[8].data() == static_cast<const void*>(m.buffers[2].data()));
}

TEST_CASE("content that is not a map is refused on encode") {
    session s(signed_options());
    message m = s.make_message("t");
    m.set_content(std::vector<int>{1, 2});
    CHECK_THROWS_AS(s.encode(m), usage_error);
}

namespace {

/// Frames of an unsigned message whose header date is the msgpack timestamp `ext`.
frames with_timestamp_date(std::string_view ext) {
    msgpack::sbuffer hdr;
    msgpack::packer<msgpack::sbuffer> pk(hdr);
    pk.pack_map(6);
    for (const char* k : {"msg_id", "msg_type", "username", "session", "version"}) {
        pk.pack(std::string(k));
        pk.pack(std::string("v"));
    }
    pk.pack(std::string("date"));
    pk.pack_ext(ext.size(), -1);
    pk.pack_ext_body(ext.data(), static_cast<std::uint32_t>(ext.size()));
    frames f;
    f.push_back(test::frame("<IDS|MSG>"));
    f.push_back(zmq::message_t());
    f.emplace_back(hdr.data(), hdr.size());
    for (int i = 0; i < 3; ++i) f.push_back(test::frame("\x80"));
    return f;
}

}  // namespace

TEST_CASE("a header date written as a msgpack timestamp is read as ISO 8601") {
    session s(session_options{});
    // timestamp 64: 1600000000 s, 0 ns
    const std::string ts64("\x00\x00\x00\x00\x5F\x5E\x10\x00", 8);
    CHECK(s.decode(with_timestamp_date(ts64)).header.date == "2020-09-13T12:26:40.000000Z");
    // timestamp 96: 123456789 ns, then 64-bit seconds
    const std::string ts96("\x07\x5B\xCD\x15\x00\x00\x00\x00\x5F\x5E\x10\x00", 12);
    CHECK(s.decode(with_timestamp_date(ts96)).header.date == "2020-09-13T12:26:40.123456Z");
}

TEST_CASE("a timestamp outside the years 1 to 9999, or with bad nanoseconds, is a decode_error") {
    session s(session_options{});
    const std::string huge("\x00\x00\x00\x00\x00\xF0\xC0\x00\x00\x00\x00\x00", 12);
    CHECK_THROWS_AS(s.decode(with_timestamp_date(huge)), decode_error);
    const std::string negative("\x00\x00\x00\x00\xF0\x00\x00\x00\x00\x00\x00\x00", 12);
    CHECK_THROWS_AS(s.decode(with_timestamp_date(negative)), decode_error);
    const std::string nanos("\x3B\x9A\xCA\x00\x00\x00\x00\x00\x00\x00\x00\x00", 12);
    CHECK_THROWS_AS(s.decode(with_timestamp_date(nanos)), decode_error);
    CHECK_THROWS_AS(s.decode(with_timestamp_date("abc")), decode_error);
}

TEST_CASE("a moved-from message owns nothing of the moved-to one (reused variable)") {
    session s(signed_options());
    for (int received = 0; received < 2; ++received) {
        message a = s.make_message("t");
        a.set_content(std::map<std::string, int>{{"x", 1}});
        if (received) a = s.decode(s.encode(a));
        message b(std::move(a));
        CHECK(a.content().type == msgpack::type::NIL);
        a.header = s.make_header("t");
        a.set_content(std::map<std::string, int>{{"y", 2}});  // a fresh zone of its own
        {
            message c;
            c = std::move(b);
            CHECK(c.content_as<std::map<std::string, int>>().at("x") == 1);
            CHECK(b.content().type == msgpack::type::NIL);
        }  // c, and the storage it took from b, die here
        CHECK(a.content_as<std::map<std::string, int>>().at("y") == 2);
        CHECK(s.decode(s.encode(a)).content_as<std::map<std::string, int>>().at("y") == 2);
    }
}

TEST_CASE("limits set to SIZE_MAX mean no limit, never a wrapped-around tiny one") {
    limits l;
    l.max_buffers = SIZE_MAX;
    l.max_identities = SIZE_MAX;
    CHECK(l.max_frames_after_delimiter() == SIZE_MAX);
    CHECK(l.max_frames() == SIZE_MAX);
    session_options o = signed_options();
    o.limits = l;
    session s(o);
    message m = sample(s);
    CHECK(s.decode(s.encode(m)).buffers.size() == 3);
}
