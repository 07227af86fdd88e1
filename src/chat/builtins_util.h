#pragma once
// Helpers shared by the built-in filters (filters.cc) and the tests / methods / globals (builtins.cc).
#include <string>

#include "chat/builtins.h"

namespace jitgen::chat::detail {

[[noreturn]] void fail(const std::string& m);
void check_undefined(const Value& v);
const std::string& need_string(const Value& v, const char* what);
int64_t need_int(const Value& v, const char* what);
bool arg_bool(const Args& a, size_t i, const char* name, bool dflt);
// jinja2's environment.getattr for `attribute=` arguments: a dotted path, integer parts index lists.
Value attribute_of(const Value& item, const std::string& path);
inline std::string soft_str(const Value& v) { return to_str(v); }

}  // namespace jitgen::chat::detail
