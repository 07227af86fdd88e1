#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/hf_config.h"

namespace jitgen::io {
namespace {

namespace fs = std::filesystem;

// Same bound as the safetensors crate (MAX_HEADER_SIZE = 100_000_000).
constexpr uint64_t kMaxHeaderSize = 100'000'000;

// A JSON value rendered for an error message: one line, bounded length.
std::string brief(const nlohmann::json& v, size_t max_len = 80) {
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > max_len) s = s.substr(0, max_len) + "...";
  return s;
}

// A name quoted and escaped as JSON, so control characters cannot break the one-line message.
std::string qname(const std::string& s) { return brief(nlohmann::json(s), 200); }

std::string errno_str(int e) { return std::strerror(e); }

// All dtypes of the safetensors format we recognise; `supported` says whether DType can hold it.
struct DTypeInfo {
  const char* name;
  size_t size;
  bool supported;
  DType dtype;
};
constexpr DTypeInfo kDTypes[] = {
    {"F64", 8, false, DType::kF32}, {"F32", 4, true, DType::kF32},  {"F16", 2, true, DType::kF16},
    {"BF16", 2, true, DType::kBF16}, {"I64", 8, false, DType::kF32}, {"I32", 4, true, DType::kI32},
    {"I16", 2, false, DType::kF32}, {"I8", 1, false, DType::kF32},  {"U8", 1, false, DType::kF32},
    {"BOOL", 1, false, DType::kF32}, {"U16", 2, false, DType::kF32}, {"U32", 4, false, DType::kF32},
    {"U64", 8, false, DType::kF32}, {"F8_E4M3", 1, false, DType::kF32}, {"F8_E5M2", 1, false, DType::kF32},
};

const DTypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

// The live file mappings, begin -> size (in_file_mapping).
std::mutex g_mappings_mu;
std::map<uintptr_t, size_t> g_mappings;

// The read-only mapping of a whole file; unmapped when the last tensor view / file object lets go.
struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  void track() {
    const std::lock_guard lock(g_mappings_mu);
    g_mappings[reinterpret_cast<uintptr_t>(addr)] = size;
  }
  ~Mapping() {
    if (!addr) return;
    {
      const std::lock_guard lock(g_mappings_mu);
      g_mappings.erase(reinterpret_cast<uintptr_t>(addr));
    }
    ::munmap(addr, size);
  }
};

struct ParsedEntry {
  std::string name;
  const DTypeInfo* dt;
  Shape shape;
  uint64_t begin, end;
};

}  // namespace

SafetensorsFile::~SafetensorsFile() = default;

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_invalid_file(fmt::format("{}: cannot open safetensors file: {}", path, errno_str(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw_invalid_file(fmt::format("{}: cannot stat: {}", path, errno_str(e)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw_invalid_file(fmt::format("{}: not a regular file", path));
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    throw_invalid_file(fmt::format(
        "{}: file is {} bytes, too short for a safetensors file (needs at least the 8-byte header length)", path,
        file_size));
  }
  auto mapping = std::make_shared<Mapping>();
  void* addr = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (addr == MAP_FAILED) throw_invalid_file(fmt::format("{}: mmap failed: {}", path, errno_str(map_errno)));
  mapping->addr = addr;
  mapping->size = file_size;
  mapping->track();
  const auto* bytes = static_cast<const unsigned char*>(addr);

  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeaderSize)
    throw_invalid_file(fmt::format("{}: header length {} exceeds the limit of {} bytes", path, header_len,
                                   kMaxHeaderSize));
  if (header_len > file_size - 8)
    throw_invalid_file(fmt::format("{}: header length {} runs past the end of the file ({} bytes after the length)",
                                   path, header_len, file_size - 8));
  const uint64_t data_size = file_size - 8 - header_len;
  const unsigned char* data = bytes + 8 + header_len;

  // nlohmann's lexer treats a NUL byte as the end of input; JSON text never contains a raw NUL.
  if (const void* nul = std::memchr(bytes + 8, 0, header_len))
    throw_invalid_file(fmt::format("{}: header is not valid JSON: NUL byte at header offset {}", path,
                                   static_cast<const unsigned char*>(nul) - (bytes + 8)));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + 8 + header_len);
  } catch (const nlohmann::json::exception& e) {
    throw_invalid_file(fmt::format("{}: header is not valid JSON: {}", path, describe_json_error(e)));
  }
  if (!header.is_object())
    throw_invalid_file(fmt::format("{}: header must be a JSON object, got {}", path, header.type_name()));

  auto file = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  file->path_ = path;
  file->map_ = addr;
  file->map_size_ = file_size;
  file->mapping_ = mapping;

  std::vector<ParsedEntry> entries;
  entries.reserve(header.size());
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object())
        throw_invalid_file(fmt::format("{}: \"__metadata__\" must be an object of strings, got {}", path,
                                       info.type_name()));
      for (const auto& [k, v] : info.items()) {
        if (!v.is_string())
          throw_invalid_file(fmt::format("{}: \"__metadata__\" entry {} must be a string, got {}", path, qname(k),
                                         brief(v)));
        file->metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = fmt::format("{}: tensor {}", path, qname(name));
    if (!info.is_object())
      throw_invalid_file(fmt::format("{}: entry must be an object with dtype, shape, data_offsets; got {}", where,
                                     brief(info)));
    ParsedEntry pe;
    pe.name = name;
    // dtype
    auto it = info.find("dtype");
    if (it == info.end()) throw_invalid_file(fmt::format("{}: missing \"dtype\"", where));
    if (!it->is_string()) throw_invalid_file(fmt::format("{}: \"dtype\" must be a string, got {}", where, brief(*it)));
    const std::string dtype_str = it->get<std::string>();
    pe.dt = find_dtype(dtype_str);
    if (!pe.dt) throw_invalid_file(fmt::format("{}: unknown dtype {}", where, qname(dtype_str)));
    if (!pe.dt->supported)
      throw_invalid_file(fmt::format("{}: unsupported dtype {} (jitgen reads F32, F16, BF16, I32)", where,
                                     pe.dt->name));
    // shape
    it = info.find("shape");
    if (it == info.end()) throw_invalid_file(fmt::format("{}: missing \"shape\"", where));
    if (!it->is_array())
      throw_invalid_file(fmt::format("{}: \"shape\" must be an array of non-negative integers, got {}", where,
                                     brief(*it)));
    uint64_t numel = 1;
    bool overflow = false;
    for (const auto& d : *it) {
      if (!d.is_number_unsigned() ||
          d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw_invalid_file(fmt::format("{}: \"shape\" must be an array of non-negative integers, got {}", where,
                                       brief(*it)));
      const uint64_t dim = d.get<uint64_t>();
      pe.shape.push_back(static_cast<int64_t>(dim));
      if (__builtin_mul_overflow(numel, dim, &numel)) overflow = true;
    }
    uint64_t nbytes = 0;
    if (overflow || numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        __builtin_mul_overflow(numel, static_cast<uint64_t>(pe.dt->size), &nbytes))
      throw_invalid_file(fmt::format("{}: shape {} is too large (element count overflows)", where,
                                     shape_str(pe.shape)));
    // data_offsets
    it = info.find("data_offsets");
    if (it == info.end()) throw_invalid_file(fmt::format("{}: missing \"data_offsets\"", where));
    if (!it->is_array() || it->size() != 2 || !(*it)[0].is_number_unsigned() || !(*it)[1].is_number_unsigned())
      throw_invalid_file(fmt::format(
          "{}: \"data_offsets\" must be an array [begin, end] of two non-negative integers, got {}", where,
          brief(*it)));
    pe.begin = (*it)[0].get<uint64_t>();
    pe.end = (*it)[1].get<uint64_t>();
    if (pe.begin > pe.end)
      throw_invalid_file(fmt::format("{}: data_offsets [{}, {}] have begin > end", where, pe.begin, pe.end));
    if (pe.end > data_size)
      throw_invalid_file(fmt::format("{}: data_offsets [{}, {}] exceed the data section of {} bytes", where,
                                     pe.begin, pe.end, data_size));
    if (pe.end - pe.begin != nbytes)
      throw_invalid_file(fmt::format("{}: data_offsets [{}, {}] span {} bytes but shape {} x {} needs {}", where,
                                     pe.begin, pe.end, pe.end - pe.begin, shape_str(pe.shape), pe.dt->name,
                                     nbytes));
    entries.push_back(std::move(pe));
  }

  // Like the safetensors crate: sorted by offsets, the spans must tile the data section exactly
  // (start at 0, no overlap, no hole, end at the end of the file).
  std::vector<const ParsedEntry*> order;
  order.reserve(entries.size());
  for (const auto& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const ParsedEntry* a, const ParsedEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  const ParsedEntry* prev = nullptr;
  for (const ParsedEntry* e : order) {
    if (e->begin < pos)
      throw_invalid_file(fmt::format("{}: tensor {} data_offsets [{}, {}] overlap tensor {} data_offsets [{}, {}]",
                                     path, qname(e->name), e->begin, e->end, qname(prev->name), prev->begin,
                                     prev->end));
    if (e->begin > pos)
      throw_invalid_file(fmt::format("{}: tensor {} data_offsets [{}, {}] leave a hole of {} unused bytes at offset {}",
                                     path, qname(e->name), e->begin, e->end, e->begin - pos, pos));
    pos = e->end;
    prev = e;
  }
  if (pos != data_size)
    throw_invalid_file(fmt::format("{}: tensors cover {} bytes but the data section has {} (trailing bytes)", path,
                                   pos, data_size));

  // Hand out views. Data inside the file is only as aligned as the writer made it: a view whose
  // address is not a multiple of its element size is copied into an aligned owning tensor instead.
  file->tensors_.reserve(entries.size());
  for (auto& e : entries) {
    TensorEntry te;
    te.name = e.name;
    te.file = path;
    const unsigned char* p = data + e.begin;
    const DType dt = e.dt->dtype;
    if (reinterpret_cast<uintptr_t>(p) % e.dt->size == 0) {
      te.tensor = Tensor::view(const_cast<unsigned char*>(p), e.shape, dt, mapping);
    } else {
      te.tensor = Tensor::zeros(e.shape, dt);
      if (e.end > e.begin) std::memcpy(te.tensor.data(), p, e.end - e.begin);
    }
    file->tensors_.push_back(std::move(te));
  }
  return file;
}

bool in_file_mapping(const void* data, size_t bytes) {
  const auto begin = reinterpret_cast<uintptr_t>(data);
  const std::lock_guard lock(g_mappings_mu);
  auto it = g_mappings.upper_bound(begin);
  if (it == g_mappings.begin()) return false;
  --it;
  return begin >= it->first && begin + bytes <= it->first + it->second;
}

// ---------------------------------------------------------------------------------------------------
// Checkpoint

namespace {

bool is_plain_filename(const std::string& s) {
  if (s.empty() || s == "." || s == "..") return false;
  return s.find('/') == std::string::npos && s.find('\\') == std::string::npos && s.find('\0') == std::string::npos;
}

}  // namespace

Checkpoint Checkpoint::open_file(const std::string& path) {
  Checkpoint ck;
  ck.description_ = path;
  auto f = SafetensorsFile::open(path);
  for (const auto& t : f->tensors()) ck.by_name_[t.name] = &t;
  ck.files_.push_back(std::move(f));
  return ck;
}

Checkpoint Checkpoint::open_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw_invalid_file(fmt::format("{}: model folder does not exist or is not a directory", dir));
  const std::string single = (fs::path(dir) / "model.safetensors").string();
  const std::string index = (fs::path(dir) / "model.safetensors.index.json").string();
  // Same preference as transformers: the single file first, then the sharded index.
  if (fs::exists(single, ec)) return open_file(single);
  if (!fs::exists(index, ec)) {
    std::string extra;
    if (fs::exists(fs::path(dir) / "pytorch_model.bin", ec) ||
        fs::exists(fs::path(dir) / "pytorch_model.bin.index.json", ec))
      extra = "; pytorch_model.bin (PyTorch pickle) is not supported, convert it to safetensors";
    throw_invalid_file(fmt::format("{}: no weights found: expected model.safetensors or "
                                   "model.safetensors.index.json{}",
                                   dir, extra));
  }

  const nlohmann::json j = read_json_file(index);
  if (!j.is_object()) throw_invalid_file(fmt::format("{}: must be a JSON object, got {}", index, j.type_name()));
  auto wm = j.find("weight_map");
  if (wm == j.end()) throw_invalid_file(fmt::format("{}: missing field \"weight_map\"", index));
  if (!wm->is_object())
    throw_invalid_file(fmt::format("{}: field \"weight_map\" must be an object, got {}", index, wm->type_name()));
  if (wm->empty()) throw_invalid_file(fmt::format("{}: field \"weight_map\" is empty", index));

  // shard file -> names the index assigns to it (in shard order of first appearance).
  std::vector<std::string> shard_order;
  std::map<std::string, std::vector<std::string>> names_by_shard;
  for (const auto& [name, shard] : wm->items()) {
    if (!shard.is_string())
      throw_invalid_file(fmt::format("{}: weight_map entry {} must be a shard file name, got {}", index,
                                     qname(name), brief(shard)));
    const std::string s = shard.get<std::string>();
    if (!is_plain_filename(s))
      throw_invalid_file(fmt::format("{}: weight_map entry {} names shard {}, which is not a plain file name in the "
                                     "model folder",
                                     index, qname(name), qname(s)));
    auto [pos, inserted] = names_by_shard.try_emplace(s);
    if (inserted) shard_order.push_back(s);
    pos->second.push_back(name);
  }

  Checkpoint ck;
  ck.description_ = index;
  std::map<std::string, std::string> shard_of;  // tensor name -> shard it came from
  for (const std::string& s : shard_order) {
    const std::string shard_path = (fs::path(dir) / s).string();
    if (!fs::is_regular_file(shard_path, ec))
      throw_invalid_file(fmt::format("{}: shard {} (named for tensor {}) does not exist in {}", index, qname(s),
                                     qname(names_by_shard[s].front()), dir));
    auto f = SafetensorsFile::open(shard_path);
    // Every tensor a shard holds is loaded (as transformers does), and none may appear in two shards.
    for (const auto& t : f->tensors()) {
      auto [pos, inserted] = shard_of.try_emplace(t.name, s);
      if (!inserted)
        throw_invalid_file(fmt::format("{}: tensor {} appears in two shards: {} and {}", index, qname(t.name),
                                       qname(pos->second), qname(s)));
      ck.by_name_[t.name] = &t;
    }
    for (const std::string& name : names_by_shard[s]) {
      auto it = shard_of.find(name);
      if (it == shard_of.end() || it->second != s)
        throw_invalid_file(fmt::format("{}: tensor {} is listed in weight_map for shard {} but {} does not contain it",
                                       index, qname(name), qname(s), shard_path));
    }
    ck.files_.push_back(std::move(f));
  }
  return ck;
}

const TensorEntry* Checkpoint::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(by_name_.size());
  for (const auto& [k, v] : by_name_) out.push_back(k);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Writing

namespace {

void write_all(int fd, const void* data, size_t n, const std::string& tmp) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw_invalid_file(fmt::format("{}: write failed: {}", tmp, errno_str(errno)));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = std::move(m);
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__")
      throw_invalid_argument(fmt::format("{}: \"__metadata__\" cannot be used as a tensor name", path));
    if (!seen.insert(name).second)
      throw_invalid_argument(fmt::format("{}: tensor {} given twice", path, qname(name)));
    for (int64_t d : t.shape())
      if (d < 0) throw_invalid_argument(fmt::format("{}: tensor {} has negative shape {}", path, qname(name),
                                                    shape_str(t.shape())));
    if (t.data() == nullptr && t.numel() != 0)
      throw_invalid_argument(fmt::format("{}: tensor {} has no data", path, qname(name)));
    nlohmann::ordered_json e = nlohmann::ordered_json::object();
    e["dtype"] = dtype_name(t.dtype());
    e["shape"] = t.shape();
    e["data_offsets"] = {offset, offset + t.nbytes()};
    offset += t.nbytes();
    header[name] = std::move(e);
  }
  std::string hs = header.dump();
  hs.append((8 - hs.size() % 8) % 8, ' ');  // pad like the safetensors crate: data starts 8-aligned
  unsigned char len[8];
  uint64_t n = hs.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));

  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_invalid_file(fmt::format("{}: cannot create: {}", tmp, errno_str(errno)));
  bool closed = false;
  try {
    write_all(fd, len, 8, tmp);
    write_all(fd, hs.data(), hs.size(), tmp);
    for (const auto& [name, t] : tensors)
      if (t.nbytes() > 0) write_all(fd, t.data(), t.nbytes(), tmp);
    if (::fsync(fd) != 0) throw_invalid_file(fmt::format("{}: fsync failed: {}", tmp, errno_str(errno)));
    closed = true;
    if (::close(fd) != 0) throw_invalid_file(fmt::format("{}: close failed: {}", tmp, errno_str(errno)));
  } catch (...) {
    if (!closed) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw_invalid_file(fmt::format("{}: cannot rename {} into place: {}", path, tmp, errno_str(e)));
  }
  // Make the rename itself durable.
  const std::string parent = fs::path(path).parent_path().string();
  const int dfd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace jitgen::io
