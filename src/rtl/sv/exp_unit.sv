// The contract's exp unit: e = round(2^16 * exp(d)) for d <= 0, 0..65536 (17 bits).
//   p = d * kExpInput (binary32); u = min(0, round_even(p)); m = -u;
//   e = 0 for NaN p or m > 17408 (-kExpFloor), else (T[m % 1024] + (2^(m/1024) >> 1)) >> (m/1024)
// T is the 1024-entry table contract::exp_table(), read from TABLE_FILE ($readmemh, one 17-bit
// hex word per line), so simulation and synthesis read the contract's own numbers.
// Combinational (the table is an asynchronous ROM): latency 0.
module exp_unit #(
    parameter TABLE_FILE = "exp_table.mem"
) (
    input  logic [31:0] d,
    output logic [16:0] e
);
  localparam logic [31:0] ExpInput = 32'h44B8AA3B;  // contract::kExpInput = 1477.3197f
  localparam logic [15:0] Floor = 16'd17408;  // -contract::kExpFloor

  logic [16:0] table_rom[0:1023];
  initial $readmemh(TABLE_FILE, table_rom);

  logic [31:0] p;
  logic signed [15:0] u;
  logic [15:0] m;
  logic [4:0] shift;
  logic [17:0] half;
  // At most 65536 after the shift: bit 17 is the adder's carry room.
  /* verilator lint_off UNUSEDSIGNAL */
  logic [17:0] rounded;
  /* verilator lint_on UNUSEDSIGNAL */
  fp32_mul scale (
      .a(d),
      .b(ExpInput),
      .result(p)
  );
  fp32_to_code to_int (
      .value(p),
      .code(u)
  );
  assign m = u[15] ? -u : 16'd0;
  assign shift = m[14:10];
  assign half = {17'd0, shift != 5'd0} << (shift - 5'd1);
  assign rounded = ({1'b0, table_rom[m[9:0]]} + half) >> shift;
  // p == NaN (d NaN) gives 0; -inf saturates to m = 32767, beyond the floor.
  assign e = (p[30:23] == 8'hFF && p[22:0] != 23'd0) || m > Floor ? 17'd0 : rounded[16:0];
endmodule
