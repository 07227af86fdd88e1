// Python str methods over UTF-8 (see strings.h). Case mapping uses utf8proc's simple mappings, which agree
// with Python for every character whose full mapping is one character (Python's ß -> SS etc. differ).
#include "chat/strings.h"

#include <utf8proc.h>

#include "chat/builtins.h"
#include "chat/value.h"

namespace jitgen::chat::pystr {

static std::string encode(const std::vector<uint32_t>& cps, size_t from = 0, size_t to = SIZE_MAX) {
  std::string out;
  for (size_t k = from; k < cps.size() && k < to; ++k) append_utf8(out, cps[k]);
  return out;
}

static uint32_t to_upper(uint32_t c) { return c < 0x80 ? (c >= 'a' && c <= 'z' ? c - 32 : c) : uint32_t(utf8proc_toupper(utf8proc_int32_t(c))); }
static uint32_t to_lower(uint32_t c) { return c < 0x80 ? (c >= 'A' && c <= 'Z' ? c + 32 : c) : uint32_t(utf8proc_tolower(utf8proc_int32_t(c))); }
static uint32_t to_title(uint32_t c) { return c < 0x80 ? to_upper(c) : uint32_t(utf8proc_totitle(utf8proc_int32_t(c))); }

bool is_cased_upper(uint32_t c) {
  auto cat = utf8proc_category(utf8proc_int32_t(c));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT;
}
bool is_cased_lower(uint32_t c) { return utf8proc_category(utf8proc_int32_t(c)) == UTF8PROC_CATEGORY_LL; }
bool is_alpha(uint32_t c) {
  auto cat = utf8proc_category(utf8proc_int32_t(c));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT ||
         cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_LO;
}
bool is_numeric(uint32_t c) {
  auto cat = utf8proc_category(utf8proc_int32_t(c));
  return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}
bool is_digit(uint32_t c) { return utf8proc_category(utf8proc_int32_t(c)) == UTF8PROC_CATEGORY_ND; }

std::string upper(const std::string& s) {
  std::string out;
  for (uint32_t c : decode_utf8(s)) append_utf8(out, to_upper(c));
  return out;
}
std::string lower(const std::string& s) {
  std::string out;
  for (uint32_t c : decode_utf8(s)) append_utf8(out, to_lower(c));
  return out;
}
std::string title(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (uint32_t c : decode_utf8(s)) {
    bool cased = is_cased_upper(c) || is_cased_lower(c);
    append_utf8(out, cased ? (prev_cased ? to_lower(c) : to_title(c)) : c);
    prev_cased = cased;
  }
  return out;
}
std::string capitalize(const std::string& s) {
  auto cps = decode_utf8(s);
  std::string out;
  for (size_t k = 0; k < cps.size(); ++k) append_utf8(out, k == 0 ? to_title(cps[k]) : to_lower(cps[k]));
  return out;
}

std::string strip(const std::string& s, const std::string* chars, bool left, bool right) {
  auto cps = decode_utf8(s);
  std::vector<uint32_t> set;
  if (chars) set = decode_utf8(*chars);
  auto drop = [&](uint32_t c) {
    if (!chars) return is_py_space(c);
    for (uint32_t x : set) if (x == c) return true;
    return false;
  };
  size_t a = 0, b = cps.size();
  if (left) while (a < b && drop(cps[a])) ++a;
  if (right) while (b > a && drop(cps[b - 1])) --b;
  return encode(cps, a, b);
}

std::vector<std::string> split(const std::string& s, const std::string* sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) throw RenderError{"empty separator"};
    if (!from_right) {
      size_t pos = 0;
      while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
        size_t f = s.find(*sep, pos);
        if (f == std::string::npos) break;
        out.push_back(s.substr(pos, f - pos));
        pos = f + sep->size();
      }
      out.push_back(s.substr(pos));
      return out;
    }
    size_t end = s.size();
    std::vector<std::string> rev;
    while (maxsplit < 0 || int64_t(rev.size()) < maxsplit) {
      if (end < sep->size()) break;
      size_t f = s.rfind(*sep, end - sep->size());
      if (f == std::string::npos) break;
      rev.push_back(s.substr(f + sep->size(), end - f - sep->size()));
      end = f;
    }
    rev.push_back(s.substr(0, end));
    return {rev.rbegin(), rev.rend()};
  }
  auto cps = decode_utf8(s);
  if (!from_right) {
    size_t k = 0, n = cps.size();
    while (true) {
      while (k < n && is_py_space(cps[k])) ++k;
      if (k >= n) break;
      if (maxsplit >= 0 && int64_t(out.size()) >= maxsplit) {
        size_t e = n;
        while (e > k && is_py_space(cps[e - 1])) --e;
        out.push_back(encode(cps, k, e));
        break;
      }
      size_t start = k;
      while (k < n && !is_py_space(cps[k])) ++k;
      out.push_back(encode(cps, start, k));
    }
    return out;
  }
  std::vector<std::string> rev;
  size_t k = cps.size();
  while (true) {
    while (k > 0 && is_py_space(cps[k - 1])) --k;
    if (k == 0) break;
    if (maxsplit >= 0 && int64_t(rev.size()) >= maxsplit) {
      size_t b = 0;
      while (b < k && is_py_space(cps[b])) ++b;
      rev.push_back(encode(cps, b, k));
      break;
    }
    size_t end = k;
    while (k > 0 && !is_py_space(cps[k - 1])) --k;
    rev.push_back(encode(cps, k, end));
  }
  return {rev.rbegin(), rev.rend()};
}

std::vector<std::string> splitlines(const std::string& s) {
  auto cps = decode_utf8(s);
  std::vector<std::string> out;
  size_t start = 0, k = 0;
  while (k < cps.size()) {
    uint32_t c = cps[k];
    bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
               c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) { ++k; continue; }
    out.push_back(encode(cps, start, k));
    k += (c == '\r' && k + 1 < cps.size() && cps[k + 1] == '\n') ? 2 : 1;
    start = k;
  }
  if (start < cps.size()) out.push_back(encode(cps, start));
  return out;
}

std::string replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count) {
  std::string out;
  if (old.empty()) {  // Python inserts repl between every character (and at both ends)
    auto cps = decode_utf8(s);
    int64_t done = 0;
    for (size_t k = 0; k <= cps.size(); ++k) {
      if (count < 0 || done < count) { out += repl; ++done; }
      if (k < cps.size()) append_utf8(out, cps[k]);
      if (out.size() > max_value_size()) value_too_big("string");
    }
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t f = s.find(old, pos);
    if (f == std::string::npos) break;
    out.append(s, pos, f - pos);
    out += repl;
    if (out.size() > max_value_size()) value_too_big("string");
    pos = f + old.size();
    ++done;
  }
  out.append(s, pos, std::string::npos);
  return out;
}

}  // namespace jitgen::chat::pystr
