#!/usr/bin/env python3
"""Synthesizes the RTL library with Yosys and writes the planner's synthesis table.

Every library module at its default parameters, every tile format's multiply-select-add tile at
a few small sizes (scaled to the contract's tile analytically, see src/rtl/synth/README.md),
and a ROM of random codes as constant logic, each mapped by ABC onto a generic gate library
(synth.ys). Cells are counted per kind and weighted into NAND2 equivalents (GATE_NAND2 below).

Usage: src/rtl/synth/synth_table.py EXP_TABLE_MEM OUT.json [--jobs N] [--cache DIR]
                                   [--formats FORMAT...] [--modules MODULE...]
                                   [--base TABLE] [--timeout SECONDS]
  EXP_TABLE_MEM: the exp unit's table, written by etch_rtl_exp_table (build/tests/rtl/
  exp_table.mem after `cmake --build build --target etch_rtl_exp_table_mem`).
  --base keeps an existing table's modules and tiles that this run does not synthesize, so a
  slow machine can complete a table a few runs at a time.
"""
import argparse
import concurrent.futures
import datetime
import hashlib
import json
import os
import pathlib
import random
import re
import signal
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[3]
SV = ROOT / "src/rtl/sv"
# The per-model chip (the sequencer and its weight ROMs) is never synthesized here: it loads a
# generated design's ROM files. Leaving it out of the sources keeps the cache valid across its
# changes.
PER_MODEL = {"etch_core.sv", "etch_weights.sv"}
FLOW = pathlib.Path(__file__).resolve().parent / "synth.ys"

# Area of each generic cell in two-input NAND gates: the usual ratios of a static-CMOS standard
# cell library (inverter 2/3 of a NAND2, AND/OR a NAND/NOR and an inverter, XOR/XNOR and the
# 2:1 mux about 7/3, a D flip-flop about 14/3: two latches of transmission gates and inverters).
GATE_NAND2 = {
    "$_NOT_": 2 / 3,
    "$_BUF_": 2 / 3,
    "$_NAND_": 1.0,
    "$_NOR_": 1.0,
    "$_AND_": 4 / 3,
    "$_OR_": 4 / 3,
    "$_XOR_": 7 / 3,
    "$_XNOR_": 7 / 3,
    "$_MUX_": 7 / 3,
    "$_DFF_P_": 14 / 3,
}
TRANSISTORS_PER_NAND2 = 4

# The library modules besides msa_tile (src/rtl/README.md), the building blocks among them
# synthesized on their own too.
LIBRARY = [
    "lzc", "fp32_unpack", "fp32_round_pack", "fp32_mul", "fp32_add", "fp32_div", "fp32_sqrt",
    "fp32_from_int64", "fp32_to_code", "fp32_greater", "fp32_abs_max", "act_quantizer", "dot_accumulator",
    "msa_output", "exp_unit", "swiglu", "attention_score", "rms_norm_scale", "rms_norm_element",
    "softmax_weights", "attention_value", "rope_pair",
]


def contract_fp4_levels():
    """fp4's fixed levels as contract::fixed_level defines them: kFp4Levels for codes 0..7 and
    their negatives for codes 8..15 (the table is read from the contract's source)."""
    text = (ROOT / "src/contract/contract.cpp").read_text()
    match = re.search(r"kFp4Levels\[8\]\s*=\s*\{([^}]*)\}", text)
    if not match:
        sys.exit("synth_table.py: kFp4Levels not found in src/contract/contract.cpp")
    positive = [int(v) for v in match.group(1).split(",")]
    return positive + [-v for v in positive]


# The contract's tile formats (contract::make_format): code bits K, group, multiplier code bits
# and kind (msa_tile's MULTIPLIER_KIND), and the fixed levels of the formats without fitted
# tables (None: fitted, so the levels are ROM and the bank holds general multipliers). The
# planner checks these against contract::make_format when it reads the table.
def tile_formats():
    return {
        "hc3": dict(k=3, group=32, multiplier_bits=4, kind=1, levels=None),
        "hc6": dict(k=6, group=32, multiplier_bits=4, kind=1, levels=None),
        "fp4": dict(k=4, group=32, multiplier_bits=3, kind=2, levels=contract_fp4_levels()),
        # int8's level is the code read as a signed byte; no multiplier (a 1-bit port, unused).
        "int8": dict(k=8, group=256, multiplier_bits=0, kind=0,
                     levels=[c - 256 if c >= 128 else c for c in range(256)]),
    }


def sv_levels(levels):
    """A packed (2^K x 8)-bit constant, level l in bits [8l +: 8]."""
    return "{" + ", ".join(f"8'sd{v}" if v >= 0 else f"-8'sd{-v}"
                           for v in reversed(levels)) + "}"


def tile_wrapper(name, fmt, rows, group):
    """msa_tile at ROWS x GROUP; a fixed-level format's levels tied to its constants."""
    k, mb = fmt["k"], max(1, fmt["multiplier_bits"])
    fixed = fmt["levels"] is not None
    levels_port = "" if fixed else f"    input logic [{(1 << k) * 8 - 1}:0] levels,\n"
    levels = sv_levels(fmt["levels"]) if fixed else "levels"
    return f"""module {name} (
    input logic clk, input logic clear, input logic valid,
    input logic [{group * 16 - 1}:0] x,
{levels_port}    input logic [{rows * group * k - 1}:0] codes,
    input logic [{rows * mb - 1}:0] multiplier_codes,
    output logic [{rows * 64 - 1}:0] acc
);
  msa_tile #(.K({k}), .GROUP({group}), .ROWS({rows}), .MULTIPLIER_BITS({mb}),
             .MULTIPLIER_KIND({fmt["kind"]})) tile (
      .clk, .clear, .valid, .x, .levels({levels}), .codes, .multiplier_codes, .acc);
endmodule
"""


def rom_wrapper(name, depth, width, seed):
    """A ROM of `depth` words of `width` random bits as a case statement: constant logic."""
    rng = random.Random(seed)
    abits = (depth - 1).bit_length()
    words = "\n".join(f"      {a}: data = {width}'h{rng.getrandbits(width):x};"
                      for a in range(depth))
    return f"""module {name} (input logic [{abits - 1}:0] address, output logic [{width - 1}:0] data);
  always_comb begin
    case (address)
{words}
      default: data = '0;
    endcase
  end
endmodule
"""


# ABC's default script sweeps for equivalent nodes with SAT, which on some deep float datapaths
# (a divider beside an adder and multipliers) ran past an hour where its fast script maps the
# same module in under a minute, with some 15% more cells (fp32_mul: 5,586 against 4,753).
FAST_ABC = ("abc -g ", "abc -fast -g ")


def synthesize(job):
    """Runs the flow on one top, or reads its result from the cache when the sources and the
    flow are unchanged; returns (cells by kind, seconds, whether ABC's fast script was used).
    A library module whose run is stopped by the timeout is run again with ABC's fast script
    (no time limit); a tile's is left out."""
    top, extra_source, exp_table, cache, timeout = job
    sources = sorted(p for p in SV.glob("*.sv") if p.name not in PER_MODEL)
    key = hashlib.sha256("".join(p.read_text() for p in sources + [FLOW]).encode()
                         + (extra_source or "").encode()).hexdigest()
    cached = cache / f"{top}.json"
    if cached.is_file():
        result = json.loads(cached.read_text())
        if result["key"] == key:
            return result["cells"], result["seconds"], result.get("fast_abc", False)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        # The exp unit's default TABLE_FILE, read when its module is parsed.
        (tmp / "exp_table.mem").write_bytes(pathlib.Path(exp_table).read_bytes())
        sources = [str(p) for p in sources]
        if extra_source:
            (tmp / f"{top}.sv").write_text(extra_source)
            sources.append(str(tmp / f"{top}.sv"))
        stat = tmp / "stat.json"
        # -defer: each module is elaborated once, at the parameters the top asks for.
        script = (f"read_verilog -defer -sv {' '.join(sources)}\n"
                  + FLOW.read_text().replace("TOP", top).replace("STAT_JSON", str(stat)))
        fast = False
        start = datetime.datetime.now()
        while True:
            (tmp / "run.ys").write_text(script.replace(*FAST_ABC) if fast else script)
            # Its own process group: a stopped run takes the ABC process Yosys started with it.
            with subprocess.Popen(["yosys", "-q", "-s", "run.ys"], cwd=tmp, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  start_new_session=True) as run:
                try:
                    stdout, stderr = run.communicate(timeout=None if fast else timeout)
                    break
                except subprocess.TimeoutExpired:
                    os.killpg(run.pid, signal.SIGKILL)
                    run.communicate()
            print(f"  {top}: stopped after {timeout} s (--timeout)", file=sys.stderr)
            if extra_source is not None:
                return None
            fast = True
        seconds = (datetime.datetime.now() - start).total_seconds()
        if run.returncode != 0:
            sys.exit(f"synth_table.py: yosys failed on {top}:\n{stdout[-2000:]}{stderr}")
        cells = json.loads(stat.read_text())["modules"][f"\\{top}"]["num_cells_by_type"]
    unknown = set(cells) - set(GATE_NAND2)
    if unknown:
        sys.exit(f"synth_table.py: {top} has cells outside the generic library: {unknown}")
    print(f"  {top}: {sum(cells.values())} cells, {seconds:.0f} s"
          + (" (ABC's fast script)" if fast else ""), file=sys.stderr)
    cached.write_text(json.dumps({"key": key, "cells": cells, "seconds": seconds,
                                  "fast_abc": fast}))
    return cells, seconds, fast


def nand2(cells):
    return sum(GATE_NAND2[kind] * n for kind, n in cells.items())


def entry(cells, seconds, fast_abc=False):
    e = {"cells": sum(cells.values()), "nand2": round(nand2(cells), 1),
         "cells_by_kind": dict(sorted(cells.items())), "seconds": round(seconds)}
    if fast_abc:
        e["abc"] = FAST_ABC[1].strip()
    return e


# Tile sizes (rows, group) of each format's runs (src/rtl/synth/README.md, "Tiles, scaled
# analytically"). Four sizes, one and two rows at two groups, solve the per-product, per-row and
# per-weight costs and a shared term; the weight's cost comes from the rows' growth with the
# group, where the bank cancels. int8's bank of 256 products per column leaves it three sizes
# and no shared term; hc6's 64 general multipliers per column leave it one column at one and two
# rows, with its per-row cost (the same group MAC: 4-bit code multiplier, 64-bit accumulator)
# from hc3.
TILE_SIZES = {"hc3": [(1, 2), (2, 2), (1, 4), (2, 4)], "hc6": [(1, 1), (2, 1)],
              "fp4": [(1, 2), (2, 2), (1, 4), (2, 4)], "int8": [(1, 1), (2, 1), (1, 2)]}
ROW_COST_FROM = {"hc6": "hc3"}
ROM_DEPTH, ROM_WIDTH = 512, 32


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exp_table")
    parser.add_argument("out")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--formats", nargs="*", default=list(tile_formats()),
                        choices=list(tile_formats()), metavar="FORMAT",
                        help="tile formats to synthesize (default: hc3 hc6 fp4 int8)")
    parser.add_argument("--modules", nargs="*", default=LIBRARY, choices=LIBRARY,
                        metavar="MODULE", help="library modules to synthesize (default: all)")
    parser.add_argument("--cache", default="build/synth-cache",
                        help="each run's cell counts, reused while sources and flow are unchanged")
    parser.add_argument("--base", help="a table whose modules and tiles are kept where this run "
                        "does not synthesize them")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds one Yosys run may take; a tile format with a run stopped "
                        "is left out (or kept from --base), a module is run again with ABC's "
                        "fast script")
    args = parser.parse_args()
    if not pathlib.Path(args.exp_table).is_file():
        sys.exit(f"synth_table.py: {args.exp_table}: no such file (build etch_rtl_exp_table_mem)")
    exp_table = str(pathlib.Path(args.exp_table).resolve())
    cache = pathlib.Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)

    formats = {name: fmt for name, fmt in tile_formats().items() if name in args.formats}
    if "hc6" in formats and "hc3" not in formats:
        sys.exit("synth_table.py: hc6 takes its per-row cost from hc3: synthesize both")
    jobs = {}
    for name, fmt in formats.items():
        for rows, group in TILE_SIZES[name]:
            top = f"tile_{name}_r{rows}_g{group}"
            jobs[("tile", name, rows, group)] = (top, tile_wrapper(top, fmt, rows, group), exp_table,
                                            cache, args.timeout)
    rom_top = f"rom_{ROM_DEPTH}x{ROM_WIDTH}"
    jobs[("rom",)] = (rom_top, rom_wrapper(rom_top, ROM_DEPTH, ROM_WIDTH, seed=9),
                     exp_table, cache, args.timeout)

    # The library modules after the tiles and the ROM, which the per-unit figures come from.
    for module in args.modules:
        jobs[("module", module)] = (module, None, exp_table, cache, args.timeout)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = dict(zip(jobs, pool.map(synthesize, jobs.values())))
    stopped = {key for key, result in results.items() if result is None}
    if ("rom",) in stopped:
        sys.exit("synth_table.py: the ROM run was stopped (--timeout): no table written")
    base = json.loads(pathlib.Path(args.base).read_text()) if args.base else {}

    yosys = subprocess.run(["yosys", "-V"], capture_output=True, text=True).stdout.strip()
    table = {
        "generator": "src/rtl/synth/synth_table.py",
        "yosys": yosys,
        "date": datetime.date.today().isoformat(),
        "flow": FLOW.read_text().strip().splitlines(),
        "nand2_per_cell": {k: round(v, 4) for k, v in GATE_NAND2.items()},
        "transistors_per_nand2": TRANSISTORS_PER_NAND2,
        "modules": {m: entry(*results[("module", m)]) for m in args.modules
                    if ("module", m) not in stopped},
        "tiles": {},
    }
    for m, kept in base.get("modules", {}).items():
        table["modules"].setdefault(m, kept)
    table["modules"] = dict(sorted(table["modules"].items()))
    for name, fmt in formats.items():
        if any(key[:2] == ("tile", name) for key in stopped):
            continue
        # cost(rows, group) = shared + product * 2^K * group + row * rows + weight * rows * group
        sizes = TILE_SIZES[name]
        cost = {size: nand2(results[("tile", name, *size)][0]) for size in sizes}
        (r1, g1), (r2, _) = sizes[0], sizes[1]
        per_row_at_g1 = (cost[(r2, g1)] - cost[(r1, g1)]) / (r2 - r1)
        shared = 0.0
        if name in ROW_COST_FROM:
            row = table["tiles"][ROW_COST_FROM[name]]["nand2_per_row"]
            weight = (per_row_at_g1 - row) / g1
            bank = (cost[(r1, g1)] - (row + weight * g1) * r1) / g1
        else:
            g2 = sizes[2][1]
            if len(sizes) == 4:
                per_row_at_g2 = (cost[(r2, g2)] - cost[(r1, g2)]) / (r2 - r1)
                weight = (per_row_at_g2 - per_row_at_g1) / (g2 - g1)
            else:  # no shared term: the one-row costs give the bank and the weights together
                weight = ((cost[(r1, g2)] - cost[(r1, g1)]) / (g2 - g1)
                          - (cost[(r1, g1)] - per_row_at_g1 * r1) / g1) / r1
            row = per_row_at_g1 - weight * g1
            bank = (cost[(r1, g2)] - cost[(r1, g1)]) / (g2 - g1) - weight * r1
            shared = cost[(r1, g1)] - bank * g1 - (row + weight * g1) * r1
        levels = 1 << fmt["k"]
        table["tiles"][name] = {
            "k": fmt["k"], "group": fmt["group"], "multiplier_bits": fmt["multiplier_bits"],
            "fitted_levels": fmt["levels"] is None,
            "sizes": {f"{r}x{g}": entry(*results[("tile", name, r, g)])
                      for r, g in TILE_SIZES[name]},
            # NAND2 equivalents per unit of contract::tile_units: one bank product, one weight
            # slot (its selector and its input to the row's adder), one row (group multiplier,
            # 64-bit accumulator and its register).
            "nand2_per_product": round(bank / levels, 2),
            "nand2_per_weight": round(weight, 2),
            "nand2_per_row": round(row, 2),
            # What the tile shares besides its units (clock, clear and valid): near zero where
            # the model fits.
            "nand2_shared": round(shared, 1),
        }
    for name, kept in base.get("tiles", {}).items():
        table["tiles"].setdefault(name, kept)
    table["tiles"] = dict(sorted(table["tiles"].items()))
    rom_cells, rom_seconds, _ = results[("rom",)]
    table["rom"] = dict(entry(rom_cells, rom_seconds), depth=ROM_DEPTH, width=ROM_WIDTH,
                        nand2_per_bit=round(nand2(rom_cells) / (ROM_DEPTH * ROM_WIDTH), 4))
    pathlib.Path(args.out).write_text(json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()
