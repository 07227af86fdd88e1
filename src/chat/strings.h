#pragma once
// Python str semantics the builtins need (code points, Unicode case mapping via utf8proc, split, strip).
#include <string>
#include <vector>

namespace jitgen::chat::pystr {

std::string upper(const std::string& s);
std::string lower(const std::string& s);
std::string title(const std::string& s);       // str.title()
std::string capitalize(const std::string& s);  // str.capitalize()
std::string strip(const std::string& s, const std::string* chars, bool left, bool right);
std::vector<std::string> split(const std::string& s, const std::string* sep, int64_t maxsplit, bool from_right);
std::vector<std::string> splitlines(const std::string& s);  // str.splitlines() (keepends=False)
std::string replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count);
bool is_cased_upper(uint32_t cp);
bool is_cased_lower(uint32_t cp);
bool is_alpha(uint32_t cp);
bool is_digit(uint32_t cp);
bool is_numeric(uint32_t cp);  // Unicode N* (what makes \\w match besides letters and _)

}  // namespace jitgen::chat::pystr
