#include "zsession/inline_string.hpp"

#include <doctest/doctest.h>

#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "zsession/header.hpp"

using zsession::inline_string;

namespace {

constexpr std::size_t cap = inline_string::inline_capacity;

/// A string of `n` bytes, distinct per `seed`, so that a wrong copy shows.
std::string pattern(std::size_t n, char seed = 'a') {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i % 23);
    return s;
}

/// True when `s` holds exactly `expected`, NUL-terminated.
bool holds(const inline_string& s, std::string_view expected) {
    return s.size() == expected.size() && s.view() == expected && s.c_str()[s.size()] == '\0' &&
           std::string_view(s.c_str()) == expected.substr(0, expected.find('\0'));
}

/// Sizes around the inline limit and well beyond it.
const std::vector<std::size_t> sizes = {0, 1, 15, 16, 36, cap - 1, cap, cap + 1, 2 * cap, 1000};

}  // namespace

TEST_CASE("inline_string holds values up to inline_capacity inside the object") {
    CHECK(sizeof(inline_string) == 64);
    for (std::size_t n : sizes) {
        CAPTURE(n);
        const std::string v = pattern(n);
        const inline_string s(v);
        CHECK(holds(s, v));
        const bool inside = s.data() >= reinterpret_cast<const char*>(&s) &&
                            s.data() < reinterpret_cast<const char*>(&s) + sizeof s;
        CHECK(inside == (n <= cap));
        CHECK(s.capacity() >= n);
    }
    const inline_string empty;
    CHECK(empty.empty());
    CHECK(holds(empty, ""));
}

TEST_CASE("inline_string copies, moves and assigns every pair of short and long values") {
    for (std::size_t a : sizes) {
        for (std::size_t b : sizes) {
            CAPTURE(a);
            CAPTURE(b);
            const std::string va = pattern(a, 'a'), vb = pattern(b, 'A');
            inline_string x(va), y(vb);
            inline_string copy(x);
            CHECK(holds(copy, va));
            copy = y;  // copy-assign over a value of the other size
            CHECK(holds(copy, vb));
            CHECK(holds(y, vb));
            inline_string moved(std::move(copy));
            CHECK(holds(moved, vb));
            CHECK(holds(copy, ""));  // NOLINT: a moved-from inline_string is empty
            moved = std::move(x);
            CHECK(holds(moved, va));
            CHECK(holds(x, ""));  // NOLINT
            x = vb;               // from std::string
            CHECK(holds(x, vb));
            x = std::string_view(va);
            CHECK(holds(x, va));
            x.assign(vb.data(), vb.size());
            CHECK(holds(x, vb));
            using std::swap;
            swap(x, moved);
            CHECK(holds(x, va));
            CHECK(holds(moved, vb));
        }
    }
}

TEST_CASE("inline_string self-assignment and assignment from its own bytes") {
    for (std::size_t n : sizes) {
        CAPTURE(n);
        const std::string v = pattern(n);
        inline_string s(v);
        const inline_string& alias = s;
        s = alias;
        CHECK(holds(s, v));
        inline_string& self = s;
        s = std::move(self);
        CHECK(holds(s, v));
        // A suffix and a prefix of itself, across the inline limit in both directions.
        if (n >= 2) {
            s = s.view().substr(1);
            CHECK(holds(s, std::string_view(v).substr(1)));
            s = v;
            s.assign(s.data(), n / 2);
            CHECK(holds(s, std::string_view(v).substr(0, n / 2)));
        }
        s = v;
        s.append(s.view());  // doubles, possibly moving to the heap mid-copy
        CHECK(holds(s, v + v));
    }
}

TEST_CASE("inline_string append, resize and clear keep their contracts") {
    inline_string s;
    std::string expected;
    for (int i = 0; i < 40; ++i) {
        const std::string part =
            pattern(static_cast<std::size_t>(i % 7), static_cast<char>('a' + i));
        s += part;
        expected += part;
        s += 'x';
        expected += 'x';
        REQUIRE(holds(s, expected));
    }
    CHECK(s.size() > cap);
    s.resize(cap + 3, '-');
    expected.resize(cap + 3, '-');
    CHECK(holds(s, expected));
    s.resize(5);  // back inline: keeps the prefix
    CHECK(holds(s, expected.substr(0, 5)));
    s.resize(8, 'z');
    CHECK(holds(s, expected.substr(0, 5) + "zzz"));
    char* p = s.resize_for_overwrite(200);
    for (int i = 0; i < 200; ++i) p[i] = 'q';
    CHECK(holds(s, std::string(200, 'q')));
    s.clear();
    CHECK(holds(s, ""));
    CHECK(s.capacity() == cap);
    const std::string with_nul("a\0b", 3);
    s = with_nul;  // bytes, not C strings
    CHECK(s.size() == 3);
    CHECK(s.view() == with_nul);
}

TEST_CASE("inline_string reads and compares like std::string") {
    const std::string long_text = pattern(80);
    inline_string s = "execute_request";
    CHECK(s == "execute_request");
    CHECK(s != "execute_reply");
    CHECK("execute_request" == s);
    CHECK(s == std::string("execute_request"));
    CHECK(std::string("execute_request") == s);
    CHECK(s == std::string_view("execute_request"));
    CHECK(std::string_view("execute_request") == s);
    CHECK(s == inline_string("execute_request"));
    CHECK(s < "execute_requestz");
    CHECK(std::string("a") < s);
    CHECK(s > std::string_view("a"));
    CHECK(inline_string(long_text) == long_text);
    CHECK(inline_string(long_text) != inline_string(long_text + "!"));
    CHECK(s[0] == 'e');
    CHECK(s.front() == 'e');
    CHECK(s.back() == 't');
    CHECK(s.starts_with("execute_"));
    CHECK(s.ends_with("_request"));
    CHECK(s.find("req") == 8);
    CHECK(s.find('z') == inline_string::npos);
    CHECK(s.substr(8) == "request");
    CHECK(std::string(s.begin(), s.end()) == "execute_request");

    // What user code written for std::string fields does with them.
    const std::string copied = s;
    CHECK(copied == "execute_request");
    std::string assigned;
    assigned = s;
    CHECK(assigned == "execute_request");
    const std::string_view view = s;
    CHECK(view.data() == s.data());
    CHECK(s + "!" == "execute_request!");
    CHECK("<" + s == "<execute_request");
    CHECK(std::string("a") + s + std::string("b") == "aexecute_requestb");
    CHECK(s + s == "execute_requestexecute_request");
    std::ostringstream os;
    os << s << '|' << inline_string(long_text);
    CHECK(os.str() == "execute_request|" + long_text);
    std::map<std::string, int> by_string;
    by_string[s] = 1;
    CHECK(by_string.count(s) == 1);
    std::unordered_map<std::string, int> by_hash;
    by_hash[s] = 2;
    CHECK(by_hash.at(s) == 2);
    std::unordered_set<inline_string> set{s, inline_string(long_text), s};
    CHECK(set.size() == 2);
    std::map<inline_string, int> ordered{{"b", 1}, {"a", 2}};
    CHECK(ordered.begin()->first == "a");
    std::vector<std::string> ids;
    ids.push_back(s);
    ids.emplace_back(s);
    CHECK(ids == std::vector<std::string>{"execute_request", "execute_request"});
}

TEST_CASE("header fields of a made header are inline; a long field from a peer is kept whole") {
    zsession::header h;
    zsession::new_uuid4(h.msg_id);
    zsession::utc_now_iso8601(h.date);
    CHECK(h.msg_id.size() == 36);
    CHECK(h.msg_id.capacity() == cap);  // inline: no allocation
    CHECK(h.date.size() == 27);
    CHECK(h.date[10] == 'T');
    CHECK(h.date.back() == 'Z');
    const std::string previous = h.msg_id;
    zsession::new_uuid4(h.msg_id);
    CHECK(h.msg_id != previous);
    // Longer than any inline capacity: a hostile or unusual peer's value.
    h.msg_type = std::string(100'000, 't');
    zsession::header copy = h;
    CHECK(copy == h);
    zsession::header moved = std::move(copy);
    CHECK(moved == h);
    CHECK(moved.msg_type.size() == 100'000);
    // Overwriting a long value with a UUID goes back inline.
    zsession::new_uuid4(moved.msg_type);
    CHECK(moved.msg_type.size() == 36);
    CHECK(moved.msg_type.capacity() == cap);
}
