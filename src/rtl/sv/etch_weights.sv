// The weight ROM of one tile format and the multiply-select-add tiles that read it. Every
// matrix stored in this format lives in the same ROM, one word per (block of ROWS rows, group):
// ROWS x GROUP codes of K bits (row-major, column LSB first) below ROWS multiplier codes of
// MULTIPLIER_BITS bits. PARALLEL_TILES msa_tiles side by side multiply a block's group at once,
// each its ROWS / PARALLEL_TILES rows (its slice of the word). The level tables are a second
// ROM, one entry of 2^K int8 levels per contract tile (kTileRows rows, so a tile's rows divide
// 64); each tile reads the table of its rows. In simulation both ROMs are memories loaded with
// $readmemh at start-up, which keeps Verilator's build time independent of the model's size;
// Yosys reads the same files, so synthesis sees the ROMs as logic. The default file names are a
// generated design's (docs/rtl.md), as Yosys loads them while it reads.
//
// Besides the tile's group products, the ROM answers the embedding lookup: lookup_weight is
// levels[code] * multiplier of (lookup_row, lookup_column) inside the addressed word.
// Addresses arrive in 32 bits and are cut to the memory's width, so upper bits go unused.
/* verilator lint_off UNUSEDSIGNAL */
module etch_weights #(
    parameter int K = 3,
    parameter int GROUP = 32,
    parameter int ROWS = 8,
    parameter int PARALLEL_TILES = 1,
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
  localparam int TileRows = ROWS / PARALLEL_TILES;
  localparam int TileIndexBits = PARALLEL_TILES > 1 ? $clog2(PARALLEL_TILES) : 1;
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
  logic [31:0] word_address, lookup_row, lookup_column;
  assign word_address = first_word + row / ROWS * groups + (embed ? element / GROUP : group);
  assign lookup_row = row % ROWS;
  assign lookup_column = element % GROUP;
  logic [GROUP*16-1:0] x;
  always_comb begin
    for (int c = 0; c < GROUP; c = c + 1)
      x[c*16+:16] = group * GROUP + c < columns ? matrix_input[(group*GROUP+c)*16+:16] : 16'd0;
  end

  logic [WordBits-1:0] word;
  assign word = code_rom[word_address[WordAddressBits-1:0]];

  // Tile t multiplies rows t * TileRows on of the block with its contract tile's levels.
  logic [(1<<K)*8-1:0] tile_levels[PARALLEL_TILES];
  genvar t;
  generate
    for (t = 0; t < PARALLEL_TILES; t = t + 1) begin : g_tile
      logic [31:0] tile_address;
      assign tile_address = first_tile + (row - row % ROWS + t * TileRows) / 64;
      assign tile_levels[t] = level_rom[tile_address[TileAddressBits-1:0]];
      msa_tile #(
          .K(K),
          .GROUP(GROUP),
          .ROWS(TileRows),
          .MULTIPLIER_BITS(MULTIPLIER_BITS),
          .MULTIPLIER_KIND(MULTIPLIER_KIND)
      ) tile (
          .clk(clk),
          .clear(clear),
          .valid(valid),
          .x(x),
          .levels(tile_levels[t]),
          .codes(word[t*TileRows*GROUP*K+:TileRows*GROUP*K]),
          .multiplier_codes(word[CodeBits+t*TileRows*MULTIPLIER_BITS+:TileRows*MULTIPLIER_BITS]),
          .acc(acc[t*TileRows*64+:TileRows*64])
      );
    end
  endgenerate

  logic [31:0] lookup_index;
  logic [K-1:0] code;
  logic [MULTIPLIER_BITS-1:0] multiplier_code;
  logic signed [7:0] level;
  logic signed [31:0] wide_level;
  logic [(1<<K)*8-1:0] levels;
  logic [31:0] lookup_tile;
  assign lookup_tile = lookup_row / TileRows;
  assign levels = tile_levels[lookup_tile[TileIndexBits-1:0]];
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
