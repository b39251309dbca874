// The KV-cache SRAM of one of K or V: one word per (layer, position, KV head) holding the
// head's LANES int16 codes, and one binary32 scale per word. The quantizer writes one code per
// cycle (write_lane); the attention units read a whole head vector per cycle.
// Addresses arrive in 32 bits and are cut to the memory's width, so upper bits go unused.
/* verilator lint_off UNUSEDSIGNAL */
module kv_cache #(
    parameter int WORDS = 1,
    parameter int LANES = 1
) (
    input  logic                 clk,
    input  logic                 write,
    input  logic [         31:0] write_address,
    input  logic [         31:0] write_lane,
    input  logic [         15:0] write_code,
    input  logic [         31:0] write_scale,
    input  logic [         31:0] read_address,
    output logic [LANES*16-1:0] read_codes,
    output logic [         31:0] read_scale
);
  localparam int AddressBits = WORDS > 1 ? $clog2(WORDS) : 1;
  localparam int LaneBits = LANES > 1 ? $clog2(LANES) : 1;
  logic [LANES*16-1:0] codes[0:WORDS-1];
  logic [31:0] scales[0:WORDS-1];
  always_ff @(posedge clk) begin
    if (write) begin
      codes[write_address[AddressBits-1:0]][write_lane[LaneBits-1:0]*16+:16] <= write_code;
      scales[write_address[AddressBits-1:0]] <= write_scale;
    end
  end
  assign read_codes = codes[read_address[AddressBits-1:0]];
  assign read_scale = scales[read_address[AddressBits-1:0]];
endmodule
/* verilator lint_on UNUSEDSIGNAL */
