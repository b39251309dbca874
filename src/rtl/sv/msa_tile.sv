// The contract's multiply-select-add tile: ROWS rows sharing one table of 2^K int8 levels,
// fed one group of GROUP int16 activation codes per cycle.
//   product bank: x_j * level_l for every input j and level l (GROUP * 2^K products, 24 bits);
//   selection:    row r, column j takes the product its K-bit code selects;
//   adder tree:   per row the group's partial, 32 bits (|x| <= 2^15, |level| <= 2^7, GROUP <= 256),
//                 written as a sum: its tree shape is synthesis's choice;
//   group MAC:    acc_r += multiplier(code_r) * partial_r in 64 bits, where the multiplier is
//                 1 (MULTIPLIER_KIND 0, int8), the code itself (1, hc) or 2^code (2, fp4).
// Levels, codes and multiplier codes are ports: the per-model top ties them to its ROM (or to
// the format's fixed levels). A short last group is fed with zero codes and activations.
// clear (synchronous) zeroes the accumulators. Latency: 1 cycle (acc holds every group
// presented before the last clock edge).
module msa_tile #(
    parameter int K = 3,
    parameter int GROUP = 32,
    parameter int ROWS = 64,
    parameter int MULTIPLIER_BITS = 4,
    parameter int MULTIPLIER_KIND = 1
) (
    input  logic                                   clk,
    input  logic                                   clear,
    input  logic                                   valid,
    input  logic [                   GROUP*16-1:0] x,
    input  logic [               (1<<K)*8-1:0] levels,
    input  logic [               ROWS*GROUP*K-1:0] codes,
    input  logic [          ROWS*MULTIPLIER_BITS-1:0] multiplier_codes,
    output logic [                    ROWS*64-1:0] acc
);
  localparam int Levels = 1 << K;

  // The shared product bank: products[j][l] = x_j * level_l. Unpacked arrays and loops keep
  // each selector an index and the bank one loop: a packed bank is one vector of
  // GROUP * 2^K * 24 bits, and simulators select from it with wide-word shifts, unrolled per
  // product (the bulk of a generated design's C++).
  logic signed [23:0] products[GROUP][Levels];
  always_comb begin
    for (int j = 0; j < GROUP; j = j + 1)
      for (int l = 0; l < Levels; l = l + 1)
        products[j][l] = $signed(x[j*16+:16]) * $signed(levels[l*8+:8]);
  end

  genvar r;
  generate
    for (r = 0; r < ROWS; r = r + 1) begin : g_row
      logic signed [23:0] selected[GROUP];
      logic signed [31:0] partial;
      logic signed [63:0] wide_partial;
      logic [MULTIPLIER_BITS-1:0] multiplier_code;
      logic signed [63:0] scaled;
      integer c;
      // One 2^K:1 selector per weight, over its column's products.
      always_comb begin
        for (int j = 0; j < GROUP; j = j + 1) selected[j] = products[j][codes[(r*GROUP+j)*K+:K]];
      end
      always_comb begin
        partial = 32'sd0;
        for (c = 0; c < GROUP; c = c + 1)
          partial = partial + {{8{selected[c][23]}}, selected[c]};
      end
      assign wide_partial = {{32{partial[31]}}, partial};
      assign multiplier_code = multiplier_codes[r*MULTIPLIER_BITS+:MULTIPLIER_BITS];
      always_comb begin
        case (MULTIPLIER_KIND)
          1: scaled = wide_partial * $signed({1'b0, multiplier_code});
          2: scaled = wide_partial <<< multiplier_code;
          default: scaled = wide_partial;
        endcase
      end
      always_ff @(posedge clk) begin
        if (clear) acc[r*64+:64] <= 64'd0;
        else if (valid) acc[r*64+:64] <= acc[r*64+:64] + scaled;
      end
    end
  endgenerate
endmodule
