#pragma once
// The built-in filters, tests, methods and global functions of the chat-template language: jinja2's
// (jinja2/filters.py, jinja2/tests.py, jinja2/defaults.py), Python's str and dict methods that templates
// call, and the globals transformers adds (raise_exception, strftime_now, namespace, dict; tojson replaced).
// Anything else is refused by name.
#include <ctime>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace jitgen::chat {

struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  // The argument at position i or keyword `name`; nullptr when not given.
  const Value* get(size_t i, const char* name) const;
};

// The limit on a string or list any template operation builds (bytes / items): RenderOptions::max_bytes of the
// render running on this thread (16 MiB outside a render). Keeps a hostile template from exhausting memory.
size_t max_value_size();
// Throws RenderError "<what> exceeds the limit of N bytes" (N = max_value_size()).
[[noreturn]] void value_too_big(const char* what);
// Sets max_value_size() for the current thread while a render runs (renders do not nest).
class ValueLimitScope {
 public:
  explicit ValueLimitScope(size_t limit);
  ~ValueLimitScope();
  ValueLimitScope(const ValueLimitScope&) = delete;
  ValueLimitScope& operator=(const ValueLimitScope&) = delete;

 private:
  size_t saved_;
};

Value apply_filter(const std::string& name, const Value& v, const Args& args);
bool apply_test(const std::string& name, const Value& v, const Args& args);
bool has_test(const std::string& name);
// Methods of str / dict / list objects (`s.strip()`, `d.items()`, ...). Throws RenderError if unknown.
Value call_method(const Value& obj, const std::string& name, const Args& args);
bool is_method(const Value& obj, const std::string& name);
// Global functions; `now` overrides the clock of strftime_now (tests, goldens).
bool is_global_function(const std::string& name);
Value call_global(const std::string& name, const Args& args, const std::optional<std::tm>& now);

}  // namespace jitgen::chat
