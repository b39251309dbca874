// etch core: the few utilities every stage shares (errors, memory-mapped files, number
// formats, threads, progress). No model knowledge lives here.
#pragma once

#include "core/error.hpp"
#include "core/half.hpp"
#include "core/mapped_file.hpp"
#include "core/output_file.hpp"
#include "core/parallel.hpp"
#include "core/progress.hpp"
