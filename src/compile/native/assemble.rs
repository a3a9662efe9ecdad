//! The assembler (`Python/assemble.c`): code units with EXTENDED_ARG and inline caches, the
//! PEP 626/657 location table and the exception table, in CPython 3.12's formats.

use super::flowgraph::{FinalInstr, Handler, Loc};
use super::opcode312::{self as op, CACHE_ENTRIES};

/// `co_code`: each instruction with its EXTENDED_ARG prefixes and zeroed caches.
pub(crate) fn code_bytes(instrs: &[FinalInstr]) -> Vec<u8> {
    let units: i32 = instrs.iter().map(size).sum();
    // Zeroed up front: the caches need no writes.
    let mut out = vec![0u8; units as usize * 2];
    let mut at = 0;
    for instr in instrs {
        // Signed, like `instr_size` and CPython's `write_instr`.
        let arg = instr.arg;
        let opcode = instr.op as u8;
        if arg > 0xff {
            let mut shift = if arg > 0xff_ffff {
                24
            } else if arg > 0xffff {
                16
            } else {
                8
            };
            while shift > 0 {
                out[at] = op::EXTENDED_ARG as u8;
                out[at + 1] = (arg >> shift) as u8;
                at += 2;
                shift -= 8;
            }
        }
        out[at] = opcode;
        out[at + 1] = arg as u8;
        at += 2 * (1 + usize::from(CACHE_ENTRIES[usize::from(opcode)]));
    }
    out
}

fn size(instr: &FinalInstr) -> i32 {
    instr.size
}

/// The location table (`assemble_location_info`).
pub(crate) fn linetable(instrs: &[FinalInstr], firstlineno: i32) -> Vec<u8> {
    let mut table = LineTable {
        // Most entries take one to three bytes.
        out: Vec::with_capacity(instrs.len() * 2),
        lineno: firstlineno,
    };
    let Some(first) = instrs.first() else {
        return table.out;
    };
    // One entry (or several, for more than 8 code units) per run of equal locations.
    let mut loc = first.loc;
    let mut run = 0;
    for instr in instrs {
        if instr.loc != loc {
            table.emit(loc, run);
            loc = instr.loc;
            run = 0;
        }
        run += size(instr);
    }
    table.emit(loc, run);
    table.out
}

struct LineTable {
    out: Vec<u8>,
    lineno: i32,
}

/// One entry's bytes, gathered on the stack and appended at once.
struct Entry {
    bytes: [u8; 32],
    len: usize,
}

impl Entry {
    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    fn first_byte(&mut self, code: u8, length: i32) {
        self.push(0x80 | (code << 3) | (length - 1) as u8);
    }

    fn varint(&mut self, mut value: u32) {
        while value >= 64 {
            self.push(0x40 | (value & 63) as u8);
            value >>= 6;
        }
        self.push(value as u8);
    }

    fn svarint(&mut self, value: i32) {
        if value < 0 {
            self.varint((value.unsigned_abs() << 1) | 1);
        } else {
            self.varint((value as u32) << 1);
        }
    }
}

impl LineTable {
    fn emit(&mut self, loc: Loc, mut isize: i32) {
        while isize > 8 {
            self.entry(loc, 8);
            isize -= 8;
        }
        if isize > 0 {
            self.entry(loc, isize);
        }
    }

    /// `write_location_info_entry`.
    fn entry(&mut self, loc: Loc, isize: i32) {
        let mut e = Entry {
            bytes: [0; 32],
            len: 0,
        };
        self.lineno = Self::encode(&mut e, loc, isize, self.lineno);
        // A fixed-size copy (no memcpy call), then the unused tail dropped.
        let at = self.out.len();
        self.out.extend_from_slice(&e.bytes);
        self.out.truncate(at + e.len);
    }

    /// Writes one entry; returns the line the next entry is relative to.
    fn encode(e: &mut Entry, loc: Loc, isize: i32, lineno: i32) -> i32 {
        if loc.line < 0 {
            e.first_byte(15, isize);
            return lineno;
        }
        let line_delta = loc.line - lineno;
        let column = loc.col;
        let end_column = loc.end_col;
        if column < 0 || end_column < 0 {
            if loc.end_line == loc.line || loc.end_line == -1 {
                e.first_byte(13, isize);
                e.svarint(line_delta);
                return loc.line;
            }
        } else if loc.end_line == loc.line {
            if line_delta == 0 && column < 80 && end_column - column < 16 && end_column >= column {
                e.first_byte((column >> 3) as u8, isize);
                e.push((((column & 7) << 4) | (end_column - column)) as u8);
                return lineno;
            }
            if (0..3).contains(&line_delta) && column < 128 && end_column < 128 {
                e.first_byte(10 + line_delta as u8, isize);
                e.push(column as u8);
                e.push(end_column as u8);
                return loc.line;
            }
        }
        e.first_byte(14, isize);
        e.svarint(line_delta);
        e.varint((loc.end_line - loc.line) as u32);
        e.varint((column + 1) as u32);
        e.varint((end_column + 1) as u32);
        loc.line
    }
}

/// The exception table (`assemble_exception_table`): one entry per run of instructions with
/// the same handler.
pub(crate) fn exception_table(instrs: &[FinalInstr]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ioffset = 0;
    let mut handler: Option<Handler> = None;
    let mut start = -1;
    for instr in instrs {
        if instr.handler != handler {
            if let Some(h) = handler {
                write_entry(&mut out, start, ioffset, h);
            }
            start = ioffset;
            handler = instr.handler;
        }
        ioffset += size(instr);
    }
    if let Some(h) = handler {
        write_entry(&mut out, start, ioffset, h);
    }
    out
}

fn write_entry(out: &mut Vec<u8>, start: i32, end: i32, handler: Handler) {
    let size = end - start;
    let target = handler.offset;
    let depth_lasti = ((handler.depth) << 1) | i32::from(handler.preserve_lasti);
    write_varint_start(out, start as u32);
    write_varint(out, size as u32);
    write_varint(out, target as u32);
    write_varint(out, depth_lasti as u32);
}

fn write_varint_start(out: &mut Vec<u8>, value: u32) {
    let at = out.len();
    write_varint(out, value);
    out[at] |= 0x80;
}

/// Big-endian 6-bit groups, 0x40 on every group but the last.
fn write_varint(out: &mut Vec<u8>, value: u32) {
    let mut shift = 0;
    while shift + 6 < 32 && (value >> (shift + 6)) != 0 {
        shift += 6;
    }
    while shift > 0 {
        out.push(0x40 | ((value >> shift) & 0x3f) as u8);
        shift -= 6;
    }
    out.push((value & 0x3f) as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instr(line: i32, col: i32, end_col: i32) -> FinalInstr {
        FinalInstr {
            op: op::NOP,
            arg: 0,
            size: 1,
            loc: Loc {
                line,
                end_line: line,
                col,
                end_col,
            },
            handler: None,
        }
    }

    /// `compile("import os\n", "t", "exec").co_linetable` on CPython 3.12 is
    /// `f003010101dc0009`: RESUME at (0, 1, 0, 0), then five code units (IMPORT_NAME,
    /// two LOAD_CONSTs, STORE_NAME, RETURN_CONST) at (1, 1, 0, 9).
    #[test]
    fn linetable_matches_cpython_for_an_import() {
        let mut resume = instr(0, 0, 0);
        resume.loc.end_line = 1;
        let mut instrs = vec![resume];
        instrs.extend((0..5).map(|_| instr(1, 0, 9)));
        assert_eq!(
            linetable(&instrs, 1),
            vec![0xf0, 0x03, 0x01, 0x01, 0x01, 0xdc, 0x00, 0x09]
        );
    }
}
