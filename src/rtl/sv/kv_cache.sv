// The KV-cache SRAM of one of K or V: one word per (layer, position, KV head) holding the
// head's LANES int16 codes, and one binary32 scale per word. The quantizer writes up to
// WRITE_LANES codes per cycle (code w of write_codes to lane write_lane + w where write_mask[w]
// is set); the attention units read a whole head vector per cycle.
// Addresses arrive in 32 bits and are cut to the memory's width, so upper bits go unused.
/* verilator lint_off UNUSEDSIGNAL */
module kv_cache #(
    parameter int WORDS = 1,
    parameter int LANES = 1,
    parameter int WRITE_LANES = 1
) (
    input  logic                 clk,
    input  logic                 write,
    input  logic [         31:0] write_address,
    input  logic [         31:0] write_lane,
    input  logic [WRITE_LANES*16-1:0] write_codes,
    input  logic [WRITE_LANES-1:0] write_mask,
    input  logic [         31:0] write_scale,
    input  logic [         31:0] read_address,
    output logic [LANES*16-1:0] read_codes,
    output logic [         31:0] read_scale
);
  localparam int AddressBits = WORDS > 1 ? $clog2(WORDS) : 1;
  logic [LANES*16-1:0] codes[0:WORDS-1];
  logic [31:0] scales[0:WORDS-1];
  always_ff @(posedge clk) begin
    if (write) begin
      for (int w = 0; w < WRITE_LANES; w = w + 1)
        if (write_mask[w])
          codes[write_address[AddressBits-1:0]][(write_lane+w)*16+:16] <=
              write_codes[w*16+:16];
      scales[write_address[AddressBits-1:0]] <= write_scale;
    end
  end
  assign read_codes = codes[read_address[AddressBits-1:0]];
  assign read_scale = scales[read_address[AddressBits-1:0]];
endmodule
/* verilator lint_on UNUSEDSIGNAL */
