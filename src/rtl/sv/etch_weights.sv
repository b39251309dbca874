// The weight ROM of one tile format and the multiply-select-add tile that reads it. Every
// matrix stored in this format lives in the same ROM, one word per (block of ROWS rows, group):
// ROWS x GROUP codes of K bits (row-major, column LSB first) below ROWS multiplier codes of
// MULTIPLIER_BITS bits. The level tables are a second ROM, one entry of 2^K int8 levels per
// contract tile (kTileRows rows, so ROWS divides 64). In simulation both ROMs are memories
// loaded with $readmemh at start-up, which keeps Verilator's build time independent of the
// model's size; Yosys reads the same files, so synthesis sees the ROMs as logic. The default
// file names are a generated design's (docs/rtl.md), as Yosys loads them while it reads.
//
// Besides the tile's group products, the ROM answers the embedding lookup: lookup_weight is
// levels[code] * multiplier of (lookup_row, lookup_column) inside the addressed word.
// Addresses arrive in 32 bits and are cut to the memory's width, so upper bits go unused.
/* verilator lint_off UNUSEDSIGNAL */
module etch_weights #(
    parameter int K = 3,
    parameter int GROUP = 32,
    parameter int ROWS = 8,
    parameter int MULTIPLIER_BITS = 4,
    parameter int MULTIPLIER_KIND = 1,
    parameter int WORDS = 1,
    parameter int TILES = 1,
    parameter CODES_FILE = "rom/codes0.hex",
    parameter LEVELS_FILE = "rom/levels0.hex",
    parameter int INPUT_LANES = 32
) (
    input  logic                           clk,
    input  logic                           clear,
    input  logic                           valid,
    input  logic                           embed,         // lookup `element` of `row`
    input  logic        [INPUT_LANES*16-1:0] matrix_input,  // the product's quantized input
    input  logic        [            31:0] columns,       // inputs from here on count as 0
    input  logic        [            31:0] first_word,    // the matrix's first ROM word
    input  logic        [            31:0] first_tile,    // its first level table
    input  logic        [            31:0] groups,        // its groups per row
    input  logic        [            31:0] row,           // the block's first row, or the lookup's
    input  logic        [            31:0] group,         // the group the tile multiplies
    input  logic        [            31:0] element,       // the lookup's column
    output logic        [     ROWS*64-1:0] acc,
    output logic signed [            31:0] lookup_weight
);
  localparam int CodeBits = ROWS * GROUP * K;
  localparam int WordBits = CodeBits + ROWS * MULTIPLIER_BITS;
  localparam int WordAddressBits = WORDS > 1 ? $clog2(WORDS) : 1;
  localparam int TileAddressBits = TILES > 1 ? $clog2(TILES) : 1;
  localparam int LookupBits = $clog2(ROWS * GROUP) + 1;

  logic [WordBits-1:0] code_rom[0:WORDS-1];
  logic [(1<<K)*8-1:0] level_rom[0:TILES-1];
  initial begin
    $readmemh(CODES_FILE, code_rom);
    $readmemh(LEVELS_FILE, level_rom);
  end

  // A block's words follow each other group by group; the lookup's group is its column's.
  logic [31:0] word_address, tile_address, lookup_row, lookup_column;
  assign word_address = first_word + row / ROWS * groups + (embed ? element / GROUP : group);
  assign tile_address = first_tile + row / 64;
  assign lookup_row = row % ROWS;
  assign lookup_column = element % GROUP;
  logic [GROUP*16-1:0] x;
  always_comb begin
    for (int c = 0; c < GROUP; c = c + 1)
      x[c*16+:16] = group * GROUP + c < columns ? matrix_input[(group*GROUP+c)*16+:16] : 16'd0;
  end

  logic [WordBits-1:0] word;
  logic [(1<<K)*8-1:0] levels;
  assign word = code_rom[word_address[WordAddressBits-1:0]];
  assign levels = level_rom[tile_address[TileAddressBits-1:0]];

  msa_tile #(
      .K(K),
      .GROUP(GROUP),
      .ROWS(ROWS),
      .MULTIPLIER_BITS(MULTIPLIER_BITS),
      .MULTIPLIER_KIND(MULTIPLIER_KIND)
  ) tile (
      .clk(clk),
      .clear(clear),
      .valid(valid),
      .x(x),
      .levels(levels),
      .codes(word[CodeBits-1:0]),
      .multiplier_codes(word[WordBits-1:CodeBits]),
      .acc(acc)
  );

  logic [31:0] lookup_index;
  logic [K-1:0] code;
  logic [MULTIPLIER_BITS-1:0] multiplier_code;
  logic signed [7:0] level;
  logic signed [31:0] wide_level;
  assign lookup_index = lookup_row * GROUP + lookup_column;
  assign code = word[lookup_index[LookupBits-1:0]*K+:K];
  assign multiplier_code = word[CodeBits+lookup_row[LookupBits-1:0]*MULTIPLIER_BITS+:MULTIPLIER_BITS];
  assign level = levels[code*8+:8];
  assign wide_level = {{24{level[7]}}, level};
  always_comb begin
    case (MULTIPLIER_KIND)
      1: lookup_weight = wide_level * $signed({1'b0, multiplier_code});
      2: lookup_weight = wide_level <<< multiplier_code;
      default: lookup_weight = wide_level;
    endcase
  end
endmodule
/* verilator lint_on UNUSEDSIGNAL */
