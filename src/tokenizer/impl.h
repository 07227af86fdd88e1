#pragma once
// jitgen::Tokenizer's private state, shared by tokenizer.cc and decode_stream.cc.
#include <memory>

#include "jitgen/tokenizer.h"
#include "tokenizer/pipeline.h"

namespace jitgen {

struct Tokenizer::Impl {
  std::unique_ptr<tokenizer::Pipeline> p;
};

}  // namespace jitgen
