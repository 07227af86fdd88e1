#pragma once
// Safetensors reading (memory-mapped, fully validated before any tensor is handed out) and writing
// (atomic: temp file + rename). Format: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data section; offsets are relative to the data section.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace jitgen::io {

// One tensor entry of a checkpoint. `tensor` is a view into the mapped file (kept alive by the view).
struct TensorEntry {
  std::string name;
  std::string file;  // the .safetensors file it came from (for error messages)
  Tensor tensor;     // dtype as stored (F32 / F16 / BF16 / I32 ...)
};

// Whether [data, data + bytes) lies inside the read-only file mapping of an open SafetensorsFile: a tensor handed out
// as a view of the file, not the aligned copy open() makes of a misaligned one (whose pages hold the only copy of its
// values: models/weight_layout.h drop_resident_pages must leave those alone).
bool in_file_mapping(const void* data, size_t bytes);

// A single memory-mapped .safetensors file. open() validates: file size >= 8, header length bound
// (<= 100 MB and inside the file), valid JSON object, every entry has a known dtype, a non-negative
// shape, data_offsets with begin <= end inside the data section, shape x itemsize == end - begin, and no
// two spans overlap. Any violation throws jitgen::Error(kInvalidFile) naming the file and the tensor.
class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  const std::string& path() const { return path_; }
  const std::vector<TensorEntry>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  ~SafetensorsFile();

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;  // start of the read-only mapping of the whole file
  size_t map_size_ = 0;
  std::shared_ptr<void> mapping_;  // owns the mapping; every tensor view holds a reference too
  std::vector<TensorEntry> tensors_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a model folder: `model.safetensors`, or the shards listed by
// `model.safetensors.index.json` ({"weight_map": {"name": "shard file"}}). Validates that every name
// in the index exists in its shard and that no name appears twice.
class Checkpoint {
 public:
  static Checkpoint open_dir(const std::string& dir);
  // A checkpoint made of one .safetensors file (open_dir uses it for `model.safetensors`).
  static Checkpoint open_file(const std::string& path);
  // nullptr when absent.
  const TensorEntry* find(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::string& description() const { return description_; }  // e.g. "/m/model.safetensors"

 private:
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorEntry*> by_name_;
  std::string description_;
};

// Writes tensors (in the given order) to `path` atomically. Metadata goes in "__metadata__".
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace jitgen::io
