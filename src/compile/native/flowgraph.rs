//! The control-flow graph and CPython 3.12's passes over it (`Python/flowgraph.c`), then the
//! jump resolution that the assembler needs. Function names follow flowgraph.c.

use super::Unsupported;
use super::code::Const;
use super::opcode312::{self as op, CACHE_ENTRIES};
use rustc_hash::{FxHashMap as HashMap, FxHasher};
use std::hash::{Hash, Hasher};

/// A source location: lines 1-based, columns UTF-8 byte offsets; -1 for "none".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub line: i32,
    pub end_line: i32,
    pub col: i32,
    pub end_col: i32,
}

/// CPython's `NO_LOCATION`.
pub(crate) const NO_LOC: Loc = Loc {
    line: -1,
    end_line: -1,
    col: -1,
    end_col: -1,
};

/// One instruction of the flat sequence codegen emits; a jump's `arg` is a label id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeqInstr {
    pub op: u16,
    pub arg: i32,
    pub loc: Loc,
}

/// CPython's `instr_sequence`: instructions, and where each label was placed.
#[derive(Debug, Default)]
pub(crate) struct InstrSeq {
    pub instrs: Vec<SeqInstr>,
    pub labels: Vec<i32>,
}

impl InstrSeq {
    pub(crate) fn new_label(&mut self) -> i32 {
        self.labels.push(-1);
        (self.labels.len() - 1) as i32
    }
    pub(crate) fn use_label(&mut self, label: i32) {
        self.labels[label as usize] = self.instrs.len() as i32;
    }
    pub(crate) fn add(&mut self, op: u16, arg: i32, loc: Loc) {
        if self.instrs.capacity() == 0 {
            // Skip the smallest regrowths; most units emit dozens of instructions.
            self.instrs.reserve(64);
        }
        self.instrs.push(SeqInstr { op, arg, loc });
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Instr {
    pub op: u16,
    pub arg: i32,
    /// A block index (u32 keeps `Instr` at 32 bytes; the passes copy it a lot).
    pub target: u32,
    pub loc: Loc,
    /// The handler block, or `NO_BLOCK`.
    pub except: u32,
}

const NONE: usize = usize::MAX;
const NO_BLOCK: u32 = u32::MAX;

impl Instr {
    fn target(&self) -> usize {
        self.target as usize
    }
    fn handler(&self) -> Option<usize> {
        (self.except != NO_BLOCK).then_some(self.except as usize)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub instrs: Vec<Instr>,
    pub next: usize,
    pub label: i32,
    pub predecessors: u32,
    pub visited: bool,
    pub except_handler: bool,
    pub preserve_lasti: bool,
    pub cold: bool,
    pub warm: bool,
    pub startdepth: i32,
    pub offset: i32,
    pub unsafe_mask: u64,
    /// `b_exceptstack`: a node of `label_exception_targets`' stacks (0: empty).
    pub except_stack: u32,
}

impl Block {
    fn new() -> Block {
        Block {
            instrs: Vec::new(),
            next: NONE,
            label: -1,
            predecessors: 0,
            visited: false,
            except_handler: false,
            preserve_lasti: false,
            cold: false,
            warm: false,
            startdepth: i32::MIN,
            offset: 0,
            unsafe_mask: 0,
            except_stack: 0,
        }
    }
    fn last(&self) -> Option<&Instr> {
        self.instrs.last()
    }
    fn no_fallthrough(&self) -> bool {
        self.last()
            .is_some_and(|i| opcode_flags(i.op) & (F_SCOPE_EXIT | F_UNCONDITIONAL_JUMP) != 0)
    }
    fn has_fallthrough(&self) -> bool {
        !self.no_fallthrough()
    }
    fn exits_scope(&self) -> bool {
        self.last().is_some_and(|i| is_scope_exit(i.op))
    }
}

// Opcode properties as one table lookup (the predicates are on every pass's hot path).
const F_JUMP: u8 = 1;
const F_BLOCK_PUSH: u8 = 2;
const F_SCOPE_EXIT: u8 = 4;
const F_UNCONDITIONAL_JUMP: u8 = 8;
const F_HAS_CONST: u8 = 16;

/// Every 3.12 opcode, pseudo-ops included, is below 512.
static OPCODE_FLAGS: [u8; 512] = {
    let t = mark(
        [0u8; 512],
        &[
            op::FOR_ITER,
            op::JUMP_FORWARD,
            op::POP_JUMP_IF_FALSE,
            op::POP_JUMP_IF_TRUE,
            op::SEND,
            op::POP_JUMP_IF_NOT_NONE,
            op::POP_JUMP_IF_NONE,
            op::JUMP_BACKWARD_NO_INTERRUPT,
            op::JUMP_BACKWARD,
            op::JUMP,
            op::JUMP_NO_INTERRUPT,
        ],
        F_JUMP,
    );
    let t = mark(
        t,
        &[op::SETUP_FINALLY, op::SETUP_CLEANUP, op::SETUP_WITH],
        F_BLOCK_PUSH,
    );
    let t = mark(
        t,
        &[
            op::RETURN_VALUE,
            op::RETURN_CONST,
            op::RAISE_VARARGS,
            op::RERAISE,
        ],
        F_SCOPE_EXIT,
    );
    let t = mark(
        t,
        &[
            op::JUMP,
            op::JUMP_NO_INTERRUPT,
            op::JUMP_FORWARD,
            op::JUMP_BACKWARD,
            op::JUMP_BACKWARD_NO_INTERRUPT,
        ],
        F_UNCONDITIONAL_JUMP,
    );
    mark(
        t,
        &[op::LOAD_CONST, op::RETURN_CONST, op::KW_NAMES],
        F_HAS_CONST,
    )
};

/// `table` with `flag` set for each of `opcodes` (a `const fn`: the table is built at compile
/// time, where iterators are not available).
const fn mark(mut table: [u8; 512], opcodes: &[u16], flag: u8) -> [u8; 512] {
    let mut i = 0;
    while i < opcodes.len() {
        table[opcodes[i] as usize] |= flag;
        i += 1;
    }
    table
}

#[inline]
fn opcode_flags(opcode: u16) -> u8 {
    OPCODE_FLAGS[usize::from(opcode) & 511]
}

pub(crate) fn is_jump(opcode: u16) -> bool {
    opcode_flags(opcode) & F_JUMP != 0
}
pub(crate) fn is_block_push(opcode: u16) -> bool {
    opcode_flags(opcode) & F_BLOCK_PUSH != 0
}
pub(crate) fn has_target(opcode: u16) -> bool {
    opcode_flags(opcode) & (F_JUMP | F_BLOCK_PUSH) != 0
}
fn is_scope_exit(opcode: u16) -> bool {
    opcode_flags(opcode) & F_SCOPE_EXIT != 0
}
fn is_unconditional_jump(opcode: u16) -> bool {
    opcode_flags(opcode) & F_UNCONDITIONAL_JUMP != 0
}
fn is_terminator(opcode: u16) -> bool {
    opcode_flags(opcode) & (F_JUMP | F_SCOPE_EXIT) != 0
}
fn has_const(opcode: u16) -> bool {
    opcode_flags(opcode) & F_HAS_CONST != 0
}

/// `_PyCompile_InstrSize`.
#[inline]
pub(crate) fn instr_size(opcode: u16, oparg: i32) -> i32 {
    let caches = i32::from(CACHE_ENTRIES[usize::from(opcode) & 0xff]);
    if oparg <= 0xff {
        // Nearly every argument fits one byte.
        return 1 + caches;
    }
    let extended = i32::from(oparg > 0xff_ffff) + i32::from(oparg > 0xffff) + 1;
    extended + 1 + caches
}

/// `PyCompile_OpcodeStackEffectWithJump` for CPython 3.12 (tested against `_opcode`).
pub(crate) fn stack_effect(opcode: u16, oparg: i32, jump: bool) -> Option<i32> {
    let o = oparg;
    Some(match opcode {
        op::NOP | op::RESUME | op::EXTENDED_ARG | op::CACHE => 0,
        op::POP_TOP => -1,
        op::PUSH_NULL => 1,
        op::END_FOR => -2,
        op::END_SEND => -1,
        op::UNARY_NEGATIVE | op::UNARY_NOT | op::UNARY_INVERT => 0,
        op::BINARY_SUBSCR => -1,
        op::BINARY_SLICE => -2,
        op::STORE_SLICE => -4,
        op::GET_LEN | op::MATCH_MAPPING | op::MATCH_SEQUENCE | op::MATCH_KEYS => 1,
        op::PUSH_EXC_INFO => 1,
        op::CHECK_EXC_MATCH | op::CHECK_EG_MATCH => 0,
        op::WITH_EXCEPT_START => 1,
        op::GET_AITER => 0,
        op::GET_ANEXT | op::BEFORE_ASYNC_WITH | op::BEFORE_WITH => 1,
        op::END_ASYNC_FOR => -2,
        op::CLEANUP_THROW => -1,
        op::STORE_SUBSCR => -3,
        op::DELETE_SUBSCR => -2,
        op::GET_ITER | op::GET_YIELD_FROM_ITER => 0,
        op::LOAD_BUILD_CLASS | op::LOAD_ASSERTION_ERROR => 1,
        op::RETURN_GENERATOR => 0,
        op::RETURN_VALUE => -1,
        op::SETUP_ANNOTATIONS => 0,
        op::LOAD_LOCALS => 1,
        op::POP_EXCEPT => -1,
        op::STORE_NAME => -1,
        op::DELETE_NAME => 0,
        op::UNPACK_SEQUENCE => o - 1,
        op::FOR_ITER => 1,
        op::UNPACK_EX => (o & 0xff) + (o >> 8),
        op::STORE_ATTR => -2,
        op::DELETE_ATTR => -1,
        op::STORE_GLOBAL => -1,
        op::DELETE_GLOBAL => 0,
        op::SWAP => 0,
        op::LOAD_CONST | op::LOAD_NAME => 1,
        op::BUILD_TUPLE | op::BUILD_LIST | op::BUILD_SET | op::BUILD_STRING => 1 - o,
        op::BUILD_MAP => 1 - 2 * o,
        op::LOAD_ATTR => o & 1,
        op::COMPARE_OP => -1,
        op::IMPORT_NAME => -1,
        op::IMPORT_FROM => 1,
        op::JUMP_FORWARD | op::JUMP_BACKWARD | op::JUMP_BACKWARD_NO_INTERRUPT => 0,
        op::JUMP | op::JUMP_NO_INTERRUPT => 0,
        op::POP_JUMP_IF_FALSE
        | op::POP_JUMP_IF_TRUE
        | op::POP_JUMP_IF_NONE
        | op::POP_JUMP_IF_NOT_NONE => -1,
        op::LOAD_GLOBAL => 1 + (o & 1),
        op::IS_OP | op::CONTAINS_OP => -1,
        op::RERAISE => -1,
        op::COPY => 1,
        op::RETURN_CONST => 0,
        op::BINARY_OP => -1,
        op::SEND => 0,
        op::LOAD_FAST | op::LOAD_FAST_CHECK | op::LOAD_FAST_AND_CLEAR => 1,
        op::STORE_FAST | op::STORE_FAST_MAYBE_NULL => -1,
        op::DELETE_FAST => 0,
        op::RAISE_VARARGS => -o,
        op::GET_AWAITABLE => 0,
        op::MAKE_FUNCTION => -((o & 1) + ((o >> 1) & 1) + ((o >> 2) & 1) + ((o >> 3) & 1)),
        op::BUILD_SLICE => {
            if o == 3 {
                -2
            } else {
                -1
            }
        }
        op::MAKE_CELL | op::COPY_FREE_VARS => 0,
        op::LOAD_CLOSURE | op::LOAD_DEREF => 1,
        op::STORE_DEREF => -1,
        op::DELETE_DEREF => 0,
        op::LOAD_SUPER_ATTR => -2 + (o & 1),
        op::CALL_FUNCTION_EX => -2 - (o & 1),
        op::LIST_APPEND | op::SET_ADD => -1,
        op::MAP_ADD => -2,
        op::YIELD_VALUE => 0,
        op::MATCH_CLASS => -2,
        op::FORMAT_VALUE => {
            if o & 4 == 4 {
                -1
            } else {
                0
            }
        }
        op::BUILD_CONST_KEY_MAP => -o,
        op::LIST_EXTEND | op::SET_UPDATE | op::DICT_MERGE | op::DICT_UPDATE => -1,
        op::CALL => -1 - o,
        op::KW_NAMES => 0,
        op::CALL_INTRINSIC_1 => 0,
        op::CALL_INTRINSIC_2 => -1,
        op::LOAD_FROM_DICT_OR_GLOBALS | op::LOAD_FROM_DICT_OR_DEREF => 0,
        op::SETUP_FINALLY => i32::from(jump),
        op::SETUP_CLEANUP => {
            if jump {
                2
            } else {
                0
            }
        }
        op::SETUP_WITH => i32::from(jump),
        op::POP_BLOCK => 0,
        op::LOAD_METHOD => 1,
        op::LOAD_SUPER_METHOD | op::LOAD_ZERO_SUPER_METHOD => -1,
        op::LOAD_ZERO_SUPER_ATTR => -1,
        _ => return None,
    })
}

/// `for (b = entryblock; b != NULL; b = b->b_next)` without collecting the list: `next` is read
/// before the body, so a block the body links in right after `b` is not visited.
macro_rules! for_each_block {
    ($cfg:expr, $b:ident => $body:block) => {{
        let mut cursor = $cfg.entry;
        while cursor != NONE {
            let $b = cursor;
            cursor = $cfg.blocks[$b].next;
            $body
        }
    }};
}

/// One handler stack of `label_exception_targets`: its top and the stack below.
struct StackNode {
    handler: usize,
    parent: u32,
    depth: u32,
}

/// The CFG of one code unit.
pub(crate) struct Cfg {
    pub blocks: Vec<Block>,
    pub entry: usize,
    /// The instruction sequence's label count (labels are `0..nlabels`).
    nlabels: usize,
    /// See `take_scratch`.
    scratch: Vec<usize>,
}

impl Cfg {
    /// The work list the graph walks share, so a code unit allocates it once.
    fn take_scratch(&mut self) -> Vec<usize> {
        let mut stack = std::mem::take(&mut self.scratch);
        stack.clear();
        stack
    }

    fn new_block(&mut self) -> usize {
        self.blocks.push(Block::new());
        self.blocks.len() - 1
    }

    /// `instr_sequence_to_cfg` (compile.c). A block starts at a label and after a terminator
    /// (`maybe_start_new_block`); each block's instructions are collected in one allocation.
    pub(crate) fn from_seq(seq: &InstrSeq) -> Cfg {
        let n = seq.instrs.len();
        let mut offset2lbl = vec![-1i32; n];
        for (lbl, &offset) in seq.labels.iter().enumerate() {
            if offset >= 0 && (offset as usize) < n {
                offset2lbl[offset as usize] = lbl as i32;
            }
        }
        let starts_block =
            |i: usize| i > 0 && (offset2lbl[i] >= 0 || is_terminator(seq.instrs[i - 1].op));
        let mut cfg = Cfg {
            // Blocks average about ten instructions; a guess on the high side saves regrowth.
            blocks: Vec::with_capacity(n / 4 + 4),
            entry: 0,
            nlabels: seq.labels.len(),
            scratch: Vec::with_capacity(16),
        };
        let mut start = 0usize;
        for i in 0..=n {
            let boundary = i == n || (i > start && starts_block(i));
            if !boundary {
                continue;
            }
            let mut block = Block::new();
            if start < n {
                block.label = offset2lbl[start];
            }
            block.instrs = seq.instrs[start..i]
                .iter()
                .map(|instr| {
                    let mut arg = instr.arg;
                    if has_target(instr.op) {
                        let offset = seq.labels[arg as usize];
                        arg = offset2lbl[offset as usize];
                    }
                    Instr {
                        op: instr.op,
                        arg,
                        target: NO_BLOCK,
                        loc: instr.loc,
                        except: NO_BLOCK,
                    }
                })
                .collect();
            let index = cfg.blocks.len();
            if let Some(prev) = cfg.blocks.last_mut() {
                prev.next = index;
            }
            cfg.blocks.push(block);
            start = i;
        }
        cfg
    }

    /// `translate_jump_labels_to_targets`, then `mark_except_handlers` in the same walk (a
    /// handler is marked once its SETUP has a target; nothing else reads the mark before).
    fn translate_jump_labels_and_mark_except_handlers(&mut self) {
        let mut label2block = vec![NONE; self.nlabels];
        for_each_block!(self, b => {
            if self.blocks[b].label >= 0 {
                label2block[self.blocks[b].label as usize] = b;
            }
        });
        for_each_block!(self, b => {
            let mut instrs = std::mem::take(&mut self.blocks[b].instrs);
            for instr in &mut instrs {
                if has_target(instr.op) {
                    let t = label2block[instr.arg as usize];
                    instr.target = t as u32;
                    if is_block_push(instr.op) {
                        self.blocks[t].except_handler = true;
                    }
                }
            }
            self.blocks[b].instrs = instrs;
        });
    }

    /// `label_exception_targets`. CPython copies a block's handler stack for each successor;
    /// here the stacks are persistent (a node is a handler and the stack below it), so a copy
    /// is an index and a push one node.
    fn label_exception_targets(&mut self) {
        for_each_block!(self, b => {
            self.blocks[b].visited = false;
        });
        // Node 0 is the empty stack (its own parent); node 1 CPython's initial `[NULL]`.
        let mut nodes: Vec<StackNode> = vec![
            StackNode {
                handler: NONE,
                parent: 0,
                depth: 0,
            },
            StackNode {
                handler: NONE,
                parent: 0,
                depth: 1,
            },
        ];
        let mut todo = self.take_scratch();
        todo.push(self.entry);
        self.blocks[self.entry].visited = true;
        self.blocks[self.entry].except_stack = 1;
        while let Some(b) = todo.pop() {
            let mut stack = std::mem::replace(&mut self.blocks[b].except_stack, 0);
            let mut handler = nodes[stack as usize].handler;
            // Taken out for the walk: its jumps only touch other blocks' flags.
            let mut instrs = std::mem::take(&mut self.blocks[b].instrs);
            for instr in &mut instrs {
                if is_block_push(instr.op) {
                    let t = instr.target();
                    if !self.blocks[t].visited {
                        self.blocks[t].except_stack = stack;
                        todo.push(t);
                        self.blocks[t].visited = true;
                    }
                    if matches!(instr.op, op::SETUP_WITH | op::SETUP_CLEANUP) {
                        self.blocks[t].preserve_lasti = true;
                    }
                    let depth = nodes[stack as usize].depth + 1;
                    nodes.push(StackNode {
                        handler: t,
                        parent: stack,
                        depth,
                    });
                    stack = (nodes.len() - 1) as u32;
                    handler = t;
                } else if instr.op == op::POP_BLOCK {
                    stack = nodes[stack as usize].parent;
                    handler = nodes[stack as usize].handler;
                } else if is_jump(instr.op) {
                    instr.except = handler as u32;
                    let t = instr.target();
                    if !self.blocks[t].visited {
                        // Without a fallthrough CPython hands its own stack over; the same
                        // stack either way.
                        self.blocks[t].except_stack = stack;
                        todo.push(t);
                        self.blocks[t].visited = true;
                    }
                } else {
                    if instr.op == op::YIELD_VALUE {
                        instr.arg = nodes[stack as usize].depth as i32 - 1;
                    }
                    instr.except = handler as u32;
                }
            }
            self.blocks[b].instrs = instrs;
            let next = self.blocks[b].next;
            if self.blocks[b].has_fallthrough() && next != NONE && !self.blocks[next].visited {
                self.blocks[next].except_stack = stack;
                todo.push(next);
                self.blocks[next].visited = true;
            }
        }
        self.scratch = todo;
    }

    fn check_cfg(&self) -> Result<(), Unsupported> {
        for_each_block!(self, b => {
            let instrs = &self.blocks[b].instrs;
            for (i, instr) in instrs.iter().enumerate() {
                if is_terminator(instr.op) && i != instrs.len() - 1 {
                    return Err(Unsupported::Construct("malformed control flow graph"));
                }
            }
        });
        Ok(())
    }

    fn mark_reachable(&mut self) {
        for_each_block!(self, b => {
            self.blocks[b].visited = false;
            self.blocks[b].predecessors = 0;
        });
        let mut stack = self.take_scratch();
        stack.push(self.entry);
        self.blocks[self.entry].predecessors = 1;
        while let Some(b) = stack.pop() {
            self.blocks[b].visited = true;
            let next = self.blocks[b].next;
            if next != NONE && self.blocks[b].has_fallthrough() {
                if !self.blocks[next].visited {
                    stack.push(next);
                }
                self.blocks[next].predecessors += 1;
            }
            // Taken out for the walk, which only touches the blocks' flags.
            let instrs = std::mem::take(&mut self.blocks[b].instrs);
            for instr in &instrs {
                if has_target(instr.op) {
                    let t = instr.target();
                    if !self.blocks[t].visited {
                        stack.push(t);
                    }
                    self.blocks[t].predecessors += 1;
                }
            }
            self.blocks[b].instrs = instrs;
        }
        self.scratch = stack;
    }

    fn eliminate_empty_basic_blocks(&mut self) {
        let mut any_empty = self.entry != NONE && self.blocks[self.entry].instrs.is_empty();
        for_each_block!(self, b => {
            let mut next = self.blocks[b].next;
            while next != NONE && self.blocks[next].instrs.is_empty() {
                next = self.blocks[next].next;
                any_empty = true;
            }
            self.blocks[b].next = next;
        });
        if !any_empty {
            // No block was unlinked, so every jump already targets a non-empty block.
            return;
        }
        while self.entry != NONE && self.blocks[self.entry].instrs.is_empty() {
            self.entry = self.blocks[self.entry].next;
        }
        for_each_block!(self, b => {
            for i in 0..self.blocks[b].instrs.len() {
                let instr = self.blocks[b].instrs[i];
                if has_target(instr.op) {
                    let mut t = instr.target();
                    while self.blocks[t].instrs.is_empty() {
                        t = self.blocks[t].next;
                    }
                    self.blocks[b].instrs[i].target = t as u32;
                }
            }
        });
    }

    fn remove_redundant_nops(&mut self, b: usize) -> usize {
        // Instructions before the first NOP all stay where they are.
        let Some(first) = self.blocks[b].instrs.iter().position(|i| i.op == op::NOP) else {
            return 0;
        };
        let mut dest = first;
        let mut prev_lineno = if first > 0 {
            self.blocks[b].instrs[first - 1].loc.line
        } else {
            -1
        };
        let n = self.blocks[b].instrs.len();
        for src in first..n {
            let instr = self.blocks[b].instrs[src];
            let lineno = instr.loc.line;
            if instr.op == op::NOP {
                if lineno < 0 {
                    continue;
                }
                if prev_lineno == lineno {
                    continue;
                }
                if src < n - 1 {
                    let next_lineno = self.blocks[b].instrs[src + 1].loc.line;
                    if next_lineno == lineno {
                        continue;
                    }
                    if next_lineno < 0 {
                        self.blocks[b].instrs[src + 1].loc = instr.loc;
                        continue;
                    }
                } else {
                    let mut next = self.blocks[b].next;
                    while next != NONE && self.blocks[next].instrs.is_empty() {
                        next = self.blocks[next].next;
                    }
                    if next != NONE && lineno == self.blocks[next].instrs[0].loc.line {
                        continue;
                    }
                }
            }
            if dest != src {
                self.blocks[b].instrs[dest] = instr;
            }
            dest += 1;
            prev_lineno = lineno;
        }
        self.blocks[b].instrs.truncate(dest);
        n - dest
    }

    fn remove_redundant_nops_and_pairs(&mut self) {
        let mut done = false;
        while !done {
            done = true;
            // The previous instruction: its block, index, opcode and argument.
            let mut cur: Option<(usize, usize, u16, i32)> = None;
            for_each_block!(self, b => {
                self.remove_redundant_nops(b);
                if self.blocks[b].label >= 0 {
                    cur = None;
                }
                for i in 0..self.blocks[b].instrs.len() {
                    let prev = cur;
                    let instr = &mut self.blocks[b].instrs[i];
                    cur = Some((b, i, instr.op, instr.arg));
                    if instr.op != op::POP_TOP {
                        continue;
                    }
                    let Some((pb, pi, prev_op, prev_arg)) = prev else {
                        continue;
                    };
                    if prev_op == op::LOAD_CONST || (prev_op == op::COPY && prev_arg == 1) {
                        set_op0(instr, op::NOP);
                        cur = Some((b, i, op::NOP, 0));
                        set_op0(&mut self.blocks[pb].instrs[pi], op::NOP);
                        done = false;
                    }
                }
                let last_is_jump = cur.is_some_and(|(_, _, opcode, _)| is_jump(opcode));
                if last_is_jump || !self.blocks[b].has_fallthrough() {
                    cur = None;
                }
            });
        }
    }

    fn remove_redundant_jumps(&mut self) {
        for_each_block!(self, b => {
            let next = self.blocks[b].next;
            if let Some(last) = self.blocks[b].instrs.last_mut() {
                if is_unconditional_jump(last.op) && last.target() == next {
                    set_op0(last, op::NOP);
                }
            }
        });
    }

    fn inline_small_exit_blocks(&mut self, b: usize) {
        let Some(last) = self.blocks[b].instrs.last().copied() else {
            return;
        };
        if !is_unconditional_jump(last.op) {
            return;
        }
        let target = last.target();
        if self.blocks[target].exits_scope() && self.blocks[target].instrs.len() <= 4 {
            let n = self.blocks[b].instrs.len();
            set_op0(&mut self.blocks[b].instrs[n - 1], op::NOP);
            let copy = self.blocks[target].instrs.clone();
            self.blocks[b].instrs.extend(copy);
        }
    }

    fn optimize_basic_block(&mut self, b: usize, consts: &mut Consts) -> Result<(), Unsupported> {
        let mut opcode = 0u16;
        let mut oparg = 0i32;
        let mut target: Option<Instr> = None;
        let mut i = 0usize;
        while i < self.blocks[b].instrs.len() {
            let inst = self.blocks[b].instrs[i];
            if !matches!(
                inst.op,
                op::LOAD_CONST
                    | op::COPY
                    | op::BUILD_TUPLE
                    | op::POP_JUMP_IF_NOT_NONE
                    | op::POP_JUMP_IF_NONE
                    | op::POP_JUMP_IF_FALSE
                    | op::POP_JUMP_IF_TRUE
                    | op::JUMP
                    | op::SWAP
                    | op::PUSH_NULL
            ) {
                // Nothing below applies; `target` is only read for the jumps, which set it.
                opcode = inst.op;
                oparg = inst.arg;
                i += 1;
                continue;
            }
            let is_copy_of_load_const =
                opcode == op::LOAD_CONST && inst.op == op::COPY && inst.arg == 1;
            if !is_copy_of_load_const {
                opcode = inst.op;
                oparg = inst.arg;
                target = if has_target(opcode) {
                    Some(self.blocks[inst.target()].instrs[0])
                } else {
                    None
                };
            }
            let len = self.blocks[b].instrs.len();
            let nextop = if i + 1 < len {
                self.blocks[b].instrs[i + 1].op
            } else {
                0
            };
            let target_op = target.map_or(op::NOP, |t| t.op);
            match opcode {
                op::LOAD_CONST => match nextop {
                    op::POP_JUMP_IF_FALSE | op::POP_JUMP_IF_TRUE => {
                        let is_true = consts.get(oparg).truth();
                        set_op0(&mut self.blocks[b].instrs[i], op::NOP);
                        let jump_if_true = nextop == op::POP_JUMP_IF_TRUE;
                        if is_true == jump_if_true {
                            self.blocks[b].instrs[i + 1].op = op::JUMP;
                        } else {
                            set_op0(&mut self.blocks[b].instrs[i + 1], op::NOP);
                        }
                    }
                    op::IS_OP => {
                        let jump_op = if i + 2 < len {
                            self.blocks[b].instrs[i + 2].op
                        } else {
                            0
                        };
                        if matches!(consts.get(oparg), Const::None)
                            && (jump_op == op::POP_JUMP_IF_FALSE || jump_op == op::POP_JUMP_IF_TRUE)
                        {
                            let nextarg = self.blocks[b].instrs[i + 1].arg & 0xff;
                            set_op0(&mut self.blocks[b].instrs[i], op::NOP);
                            set_op0(&mut self.blocks[b].instrs[i + 1], op::NOP);
                            let flip = (nextarg != 0) ^ (jump_op == op::POP_JUMP_IF_FALSE);
                            self.blocks[b].instrs[i + 2].op = if flip {
                                op::POP_JUMP_IF_NOT_NONE
                            } else {
                                op::POP_JUMP_IF_NONE
                            };
                        }
                    }
                    op::RETURN_VALUE => {
                        set_op0(&mut self.blocks[b].instrs[i], op::NOP);
                        i += 1;
                        set_op1(&mut self.blocks[b].instrs[i], op::RETURN_CONST, oparg);
                    }
                    _ => {}
                },
                op::BUILD_TUPLE => {
                    if nextop == op::UNPACK_SEQUENCE && oparg == self.blocks[b].instrs[i + 1].arg {
                        match oparg {
                            1 => {
                                set_op0(&mut self.blocks[b].instrs[i], op::NOP);
                                set_op0(&mut self.blocks[b].instrs[i + 1], op::NOP);
                                i += 1;
                                continue;
                            }
                            2 | 3 => {
                                set_op0(&mut self.blocks[b].instrs[i], op::NOP);
                                self.blocks[b].instrs[i + 1].op = op::SWAP;
                                i += 1;
                                continue;
                            }
                            _ => {}
                        }
                    }
                    if i >= oparg as usize {
                        self.fold_tuple_on_constants(b, i - oparg as usize, oparg as usize, consts);
                    }
                }
                op::POP_JUMP_IF_NOT_NONE
                | op::POP_JUMP_IF_NONE
                | op::POP_JUMP_IF_FALSE
                | op::POP_JUMP_IF_TRUE
                | op::JUMP => {
                    if target_op == op::JUMP {
                        let t = target.expect("a jump target");
                        if self.jump_thread(b, i, t, inst.op) {
                            // `i -= jump_thread(...)`: look at this instruction again.
                            continue;
                        }
                    }
                }
                op::SWAP => {
                    if oparg == 1 {
                        set_op0(&mut self.blocks[b].instrs[i], op::NOP);
                    } else {
                        let mut ix = i;
                        swaptimize(&mut self.blocks[b].instrs, &mut ix);
                        i = ix;
                        apply_static_swaps(&mut self.blocks[b].instrs, i as isize);
                    }
                }
                op::PUSH_NULL => {
                    if nextop == op::LOAD_GLOBAL && (self.blocks[b].instrs[i + 1].arg & 1) == 0 {
                        set_op0(&mut self.blocks[b].instrs[i], op::NOP);
                        self.blocks[b].instrs[i + 1].arg |= 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Ok(())
    }

    fn jump_thread(&mut self, b: usize, i: usize, target: Instr, opcode: u16) -> bool {
        let inst = self.blocks[b].instrs[i];
        if (inst.loc.line == target.loc.line || target.loc.line == -1)
            && inst.target() != target.target()
        {
            let inst = &mut self.blocks[b].instrs[i];
            inst.target = target.target;
            inst.op = opcode;
            return true;
        }
        false
    }

    fn fold_tuple_on_constants(&mut self, b: usize, start: usize, n: usize, consts: &mut Consts) {
        let instrs = &self.blocks[b].instrs;
        if instrs[start..start + n].iter().any(|i| !has_const(i.op)) {
            return;
        }
        let items: Vec<Const> = instrs[start..start + n]
            .iter()
            .map(|i| consts.get(i.arg).clone())
            .collect();
        let index = consts.add_folded(Const::Tuple(items));
        for j in start..start + n {
            set_op0(&mut self.blocks[b].instrs[j], op::NOP);
        }
        set_op1(&mut self.blocks[b].instrs[start + n], op::LOAD_CONST, index);
    }

    fn optimize_cfg(&mut self, consts: &mut Consts) -> Result<(), Unsupported> {
        self.check_cfg()?;
        self.eliminate_empty_basic_blocks();
        for_each_block!(self, b => {
            self.inline_small_exit_blocks(b);
        });
        for_each_block!(self, b => {
            self.optimize_basic_block(b, consts)?;
        });
        self.remove_redundant_nops_and_pairs();
        for_each_block!(self, b => {
            self.inline_small_exit_blocks(b);
        });
        self.mark_reachable();
        for_each_block!(self, b => {
            if self.blocks[b].predecessors == 0 {
                self.blocks[b].instrs.clear();
            }
        });
        for_each_block!(self, b => {
            self.remove_redundant_nops(b);
        });
        self.eliminate_empty_basic_blocks();
        self.remove_redundant_jumps();
        Ok(())
    }

    /// `remove_unused_consts`: the first constant (maybe a docstring) always stays.
    fn remove_unused_consts(&mut self, consts: &mut Consts) {
        let n = consts.list.len();
        if n == 0 {
            return;
        }
        let mut used = vec![false; n];
        used[0] = true;
        for_each_block!(self, b => {
            for instr in &self.blocks[b].instrs {
                if has_const(instr.op) {
                    used[instr.arg as usize] = true;
                }
            }
        });
        if used.iter().all(|&u| u) {
            return;
        }
        let mut remap = vec![-1i32; n];
        let mut kept = 0;
        for (i, u) in used.iter().enumerate() {
            if *u {
                remap[i] = kept;
                kept += 1;
            }
        }
        // Moved, not cloned: a constant can be a whole code object.
        let mut i = 0;
        consts.list.retain(|_| {
            i += 1;
            used[i - 1]
        });
        for_each_block!(self, b => {
            for instr in &mut self.blocks[b].instrs {
                if has_const(instr.op) {
                    instr.arg = remap[instr.arg as usize];
                }
            }
        });
    }

    fn add_checks_for_loads_of_uninitialized_variables(&mut self, nlocals: usize, nparams: usize) {
        if nlocals == 0 {
            return;
        }
        let mut nlocals = nlocals;
        if nlocals > 64 {
            self.fast_scan_many_locals(nlocals);
            nlocals = 64;
        }
        for_each_block!(self, b => {
            self.blocks[b].visited = false;
            self.blocks[b].unsafe_mask = 0;
        });
        let mut stack = self.take_scratch();
        let mut start_mask = 0u64;
        for i in nparams..nlocals {
            start_mask |= 1u64 << i;
        }
        let entry = self.entry;
        self.maybe_push(entry, start_mask, &mut stack);
        for_each_block!(self, b => {
            self.scan_block_for_locals(b, &mut stack);
        });
        while let Some(b) = stack.pop() {
            self.blocks[b].visited = false;
            self.scan_block_for_locals(b, &mut stack);
        }
        self.scratch = stack;
    }

    fn maybe_push(&mut self, b: usize, unsafe_mask: u64, stack: &mut Vec<usize>) {
        let both = self.blocks[b].unsafe_mask | unsafe_mask;
        if self.blocks[b].unsafe_mask != both {
            self.blocks[b].unsafe_mask = both;
            if !self.blocks[b].visited {
                stack.push(b);
                self.blocks[b].visited = true;
            }
        }
    }

    fn scan_block_for_locals(&mut self, b: usize, stack: &mut Vec<usize>) {
        let mut unsafe_mask = self.blocks[b].unsafe_mask;
        // Taken out for the walk; `maybe_push` only touches the blocks' masks and flags.
        let mut instrs = std::mem::take(&mut self.blocks[b].instrs);
        for instr in &mut instrs {
            if let Some(handler) = instr.handler() {
                self.maybe_push(handler, unsafe_mask, stack);
            }
            if instr.arg >= 64 {
                continue;
            }
            let bit = 1u64 << instr.arg;
            match instr.op {
                op::DELETE_FAST | op::LOAD_FAST_AND_CLEAR | op::STORE_FAST_MAYBE_NULL => {
                    unsafe_mask |= bit
                }
                op::STORE_FAST | op::LOAD_FAST_CHECK => unsafe_mask &= !bit,
                op::LOAD_FAST => {
                    if unsafe_mask & bit != 0 {
                        instr.op = op::LOAD_FAST_CHECK;
                    }
                    unsafe_mask &= !bit;
                }
                _ => {}
            }
        }
        self.blocks[b].instrs = instrs;
        let next = self.blocks[b].next;
        if next != NONE && self.blocks[b].has_fallthrough() {
            self.maybe_push(next, unsafe_mask, stack);
        }
        if let Some(last) = self.blocks[b].instrs.last().copied() {
            if is_jump(last.op) {
                self.maybe_push(last.target(), unsafe_mask, stack);
            }
        }
    }

    fn fast_scan_many_locals(&mut self, nlocals: usize) {
        let mut states = vec![0usize; nlocals - 64];
        let mut blocknum = 0usize;
        for_each_block!(self, b => {
            blocknum += 1;
            for instr in &mut self.blocks[b].instrs {
                let arg = instr.arg as usize;
                if arg < 64 {
                    continue;
                }
                match instr.op {
                    op::DELETE_FAST | op::LOAD_FAST_AND_CLEAR | op::STORE_FAST_MAYBE_NULL => {
                        states[arg - 64] = blocknum - 1;
                    }
                    op::STORE_FAST => states[arg - 64] = blocknum,
                    op::LOAD_FAST => {
                        if states[arg - 64] != blocknum {
                            instr.op = op::LOAD_FAST_CHECK;
                        }
                        states[arg - 64] = blocknum;
                    }
                    _ => {}
                }
            }
        });
    }

    fn mark_warm(&mut self) {
        for_each_block!(self, b => {
            self.blocks[b].visited = false;
        });
        let mut stack = self.take_scratch();
        stack.push(self.entry);
        self.blocks[self.entry].visited = true;
        while let Some(b) = stack.pop() {
            self.blocks[b].warm = true;
            let next = self.blocks[b].next;
            if next != NONE && self.blocks[b].has_fallthrough() && !self.blocks[next].visited {
                stack.push(next);
                self.blocks[next].visited = true;
            }
            for i in 0..self.blocks[b].instrs.len() {
                let instr = self.blocks[b].instrs[i];
                if is_jump(instr.op) && !self.blocks[instr.target()].visited {
                    stack.push(instr.target());
                    self.blocks[instr.target()].visited = true;
                }
            }
        }
        self.scratch = stack;
    }

    fn mark_cold(&mut self) {
        self.mark_warm();
        for_each_block!(self, b => {
            self.blocks[b].visited = false;
        });
        let mut stack = self.take_scratch();
        for_each_block!(self, b => {
            if self.blocks[b].except_handler {
                stack.push(b);
                self.blocks[b].visited = true;
            }
        });
        while let Some(b) = stack.pop() {
            self.blocks[b].cold = true;
            let next = self.blocks[b].next;
            if next != NONE
                && self.blocks[b].has_fallthrough()
                && !self.blocks[next].warm
                && !self.blocks[next].visited
            {
                stack.push(next);
                self.blocks[next].visited = true;
            }
            for i in 0..self.blocks[b].instrs.len() {
                let instr = self.blocks[b].instrs[i];
                if is_jump(instr.op) {
                    let t = instr.target();
                    if !self.blocks[t].warm && !self.blocks[t].visited {
                        stack.push(t);
                        self.blocks[t].visited = true;
                    }
                }
            }
        }
        self.scratch = stack;
    }

    fn push_cold_blocks_to_end(&mut self) {
        if self.blocks[self.entry].next == NONE {
            return;
        }
        self.mark_cold();
        for_each_block!(self, b => {
            let next = self.blocks[b].next;
            if self.blocks[b].cold
                && self.blocks[b].has_fallthrough()
                && next != NONE
                && self.blocks[next].warm
            {
                let jump = self.new_block();
                let label = self.blocks[next].label;
                self.blocks[jump].instrs.push(Instr {
                    op: op::JUMP,
                    arg: label,
                    target: next as u32,
                    loc: NO_LOC,
                    except: NO_BLOCK,
                });
                self.blocks[jump].cold = true;
                self.blocks[jump].next = next;
                self.blocks[b].next = jump;
            }
        });
        let mut cold_head = NONE;
        let mut cold_tail = NONE;
        let mut b = self.entry;
        while self.blocks[b].next != NONE {
            while self.blocks[b].next != NONE && !self.blocks[self.blocks[b].next].cold {
                b = self.blocks[b].next;
            }
            if self.blocks[b].next == NONE {
                break;
            }
            let start = self.blocks[b].next;
            let mut end = start;
            while self.blocks[end].next != NONE && self.blocks[self.blocks[end].next].cold {
                end = self.blocks[end].next;
            }
            if cold_head == NONE {
                cold_head = start;
            } else {
                self.blocks[cold_tail].next = start;
            }
            cold_tail = end;
            self.blocks[b].next = self.blocks[end].next;
            self.blocks[end].next = NONE;
        }
        self.blocks[b].next = cold_head;
        if cold_head != NONE {
            self.remove_redundant_jumps();
        }
    }

    fn is_exit_without_lineno(&self, b: usize) -> bool {
        self.blocks[b].exits_scope() && self.blocks[b].instrs.iter().all(|i| i.loc.line < 0)
    }

    fn duplicate_exits_without_lineno(&mut self) {
        for_each_block!(self, b => {
            let last = *self.blocks[b].instrs.last().expect("no empty blocks");
            if is_jump(last.op) {
                let target = last.target();
                if self.is_exit_without_lineno(target) && self.blocks[target].predecessors > 1 {
                    let new_target = self.new_block();
                    self.blocks[new_target].instrs = self.blocks[target].instrs.clone();
                    self.blocks[new_target].instrs[0].loc = last.loc;
                    let n = self.blocks[b].instrs.len();
                    self.blocks[b].instrs[n - 1].target = new_target as u32;
                    self.blocks[target].predecessors -= 1;
                    self.blocks[new_target].predecessors = 1;
                    self.blocks[new_target].next = self.blocks[target].next;
                    self.blocks[target].next = new_target;
                }
            }
        });
        for_each_block!(self, b => {
            let next = self.blocks[b].next;
            if self.blocks[b].has_fallthrough()
                && next != NONE
                && !self.blocks[b].instrs.is_empty()
                && self.is_exit_without_lineno(next)
            {
                let loc = self.blocks[b].instrs.last().expect("non-empty").loc;
                self.blocks[next].instrs[0].loc = loc;
            }
        });
    }

    fn propagate_line_numbers(&mut self) {
        for_each_block!(self, b => {
            let Some(last) = self.blocks[b].instrs.last().copied() else {
                continue;
            };
            let mut prev = NO_LOC;
            for instr in &mut self.blocks[b].instrs {
                if instr.loc.line < 0 {
                    instr.loc = prev;
                } else {
                    prev = instr.loc;
                }
            }
            let next = self.blocks[b].next;
            if self.blocks[b].has_fallthrough()
                && next != NONE
                && self.blocks[next].predecessors == 1
                && self.blocks[next].instrs[0].loc.line < 0
            {
                self.blocks[next].instrs[0].loc = prev;
            }
            if is_jump(last.op) {
                let t = last.target();
                if self.blocks[t].predecessors == 1 && self.blocks[t].instrs[0].loc.line < 0 {
                    self.blocks[t].instrs[0].loc = prev;
                }
            }
        });
    }

    fn guarantee_lineno_for_exits(&mut self, firstlineno: i32) {
        let mut lineno = firstlineno;
        for_each_block!(self, b => {
            let Some(last) = self.blocks[b].instrs.last().copied() else {
                continue;
            };
            if last.loc.line < 0 {
                if last.op == op::RETURN_VALUE {
                    for instr in &mut self.blocks[b].instrs {
                        instr.loc.line = lineno;
                    }
                }
            } else {
                lineno = last.loc.line;
            }
        });
    }

    /// `_PyCfg_OptimizeCodeUnit` (3.12: no superinstructions).
    pub(crate) fn optimize_code_unit(
        &mut self,
        consts: &mut Consts,
        nlocals: usize,
        nparams: usize,
        firstlineno: i32,
    ) -> Result<(), Unsupported> {
        self.translate_jump_labels_and_mark_except_handlers();
        self.label_exception_targets();
        self.optimize_cfg(consts)?;
        self.remove_unused_consts(consts);
        self.add_checks_for_loads_of_uninitialized_variables(nlocals, nparams);
        self.push_cold_blocks_to_end();
        self.duplicate_exits_without_lineno();
        self.propagate_line_numbers();
        self.guarantee_lineno_for_exits(firstlineno);
        Ok(())
    }

    /// `insert_prefix_instructions` for a generator: RETURN_GENERATOR and POP_TOP first, after
    /// the passes (so with no handler and no propagated location).
    pub(crate) fn insert_generator_prefix(&mut self, firstlineno: i32) {
        let make_gen = Instr {
            op: op::RETURN_GENERATOR,
            arg: 0,
            target: NO_BLOCK,
            loc: Loc {
                line: firstlineno,
                end_line: firstlineno,
                col: -1,
                end_col: -1,
            },
            except: NO_BLOCK,
        };
        let pop_top = Instr {
            op: op::POP_TOP,
            arg: 0,
            target: NO_BLOCK,
            loc: NO_LOC,
            except: NO_BLOCK,
        };
        let entry = self.entry;
        self.blocks[entry].instrs.splice(0..0, [make_gen, pop_top]);
    }

    /// `insert_prefix_instructions`, the cells part: MAKE_CELL for each cell in the order of
    /// its final slot, then COPY_FREE_VARS first.
    pub(crate) fn insert_cell_prefix(&mut self, fixed_cells: &[i32], nfrees: usize) {
        let entry = self.entry;
        let mut order: Vec<(i32, usize)> = fixed_cells
            .iter()
            .enumerate()
            .map(|(i, &f)| (f, i))
            .collect();
        order.sort_unstable();
        for (used, (_, cell)) in order.into_iter().enumerate() {
            let make_cell = Instr {
                op: op::MAKE_CELL,
                arg: cell as i32,
                target: NO_BLOCK,
                loc: NO_LOC,
                except: NO_BLOCK,
            };
            self.blocks[entry].instrs.insert(used, make_cell);
        }
        if nfrees > 0 {
            let copy = Instr {
                op: op::COPY_FREE_VARS,
                arg: nfrees as i32,
                target: NO_BLOCK,
                loc: NO_LOC,
                except: NO_BLOCK,
            };
            self.blocks[entry].instrs.insert(0, copy);
        }
    }

    /// `fix_cell_offsets`: cell and free indices to their slots in `co_localsplusnames`.
    pub(crate) fn fix_cell_offsets(&mut self, fixed: &[i32]) {
        for_each_block!(self, b => {
            for instr in &mut self.blocks[b].instrs {
                if matches!(
                    instr.op,
                    op::MAKE_CELL
                        | op::LOAD_CLOSURE
                        | op::LOAD_DEREF
                        | op::STORE_DEREF
                        | op::DELETE_DEREF
                        | op::LOAD_FROM_DICT_OR_DEREF
                ) {
                    instr.arg = fixed[instr.arg as usize];
                }
            }
        });
    }

    /// `_PyCfg_Stackdepth`.
    pub(crate) fn stackdepth(&mut self, generator: bool) -> Result<i32, Unsupported> {
        for_each_block!(self, b => {
            self.blocks[b].startdepth = i32::MIN;
        });
        let mut stack = self.take_scratch();
        let mut maxdepth = 0;
        let entry = self.entry;
        self.stackdepth_push(&mut stack, entry, i32::from(generator));
        while let Some(b) = stack.pop() {
            let mut depth = self.blocks[b].startdepth;
            let mut next = self.blocks[b].next;
            // Taken out for the walk; `stackdepth_push` only touches start depths.
            let instrs = std::mem::take(&mut self.blocks[b].instrs);
            let mut failure = None;
            for instr in &instrs {
                let Some(effect) = stack_effect(instr.op, instr.arg, false) else {
                    failure = Some("an opcode without a known stack effect");
                    break;
                };
                let new_depth = depth + effect;
                if new_depth < 0 {
                    failure = Some("a negative stack depth");
                    break;
                }
                maxdepth = maxdepth.max(new_depth);
                if has_target(instr.op) {
                    let Some(effect) = stack_effect(instr.op, instr.arg, true) else {
                        failure = Some("an opcode without a known stack effect");
                        break;
                    };
                    let target_depth = depth + effect;
                    maxdepth = maxdepth.max(target_depth);
                    self.stackdepth_push(&mut stack, instr.target(), target_depth);
                }
                depth = new_depth;
                if is_unconditional_jump(instr.op) || is_scope_exit(instr.op) {
                    next = NONE;
                    break;
                }
            }
            self.blocks[b].instrs = instrs;
            if let Some(what) = failure {
                return Err(Unsupported::Construct(what));
            }
            if next != NONE {
                self.stackdepth_push(&mut stack, next, depth);
            }
        }
        self.scratch = stack;
        Ok(maxdepth)
    }

    fn stackdepth_push(&mut self, stack: &mut Vec<usize>, b: usize, depth: i32) {
        if self.blocks[b].startdepth < depth && self.blocks[b].startdepth < 100 {
            self.blocks[b].startdepth = depth;
            stack.push(b);
        }
    }

    /// `_PyCfg_ConvertPseudoOps`.
    pub(crate) fn convert_pseudo_ops(&mut self) {
        for_each_block!(self, b => {
            for instr in &mut self.blocks[b].instrs {
                if is_block_push(instr.op) || instr.op == op::POP_BLOCK {
                    set_op0(instr, op::NOP);
                } else if instr.op == op::STORE_FAST_MAYBE_NULL {
                    instr.op = op::STORE_FAST;
                }
            }
        });
        for_each_block!(self, b => {
            self.remove_redundant_nops(b);
        });
    }

    /// `_PyCfg_ResolveJumps`: pick jump directions, then offsets (until EXTENDED_ARGs settle).
    pub(crate) fn resolve_jumps(&mut self) {
        // normalize_jumps
        for_each_block!(self, b => {
            self.blocks[b].visited = false;
        });
        // The list grows while it is walked (a backward conditional jump gets a block).
        let mut cursor = self.entry;
        while cursor != NONE {
            let b = cursor;
            cursor = self.blocks[b].next;
            self.blocks[b].visited = true;
            let Some(last) = self.blocks[b].instrs.last().copied() else {
                continue;
            };
            if !is_jump(last.op) {
                continue;
            }
            let is_forward = !self.blocks[last.target()].visited;
            let n = self.blocks[b].instrs.len() - 1;
            match last.op {
                op::JUMP => {
                    self.blocks[b].instrs[n].op = if is_forward {
                        op::JUMP_FORWARD
                    } else {
                        op::JUMP_BACKWARD
                    };
                    continue;
                }
                op::JUMP_NO_INTERRUPT => {
                    self.blocks[b].instrs[n].op = if is_forward {
                        op::JUMP_FORWARD
                    } else {
                        op::JUMP_BACKWARD_NO_INTERRUPT
                    };
                    continue;
                }
                _ => {}
            }
            let reversed = match last.op {
                op::POP_JUMP_IF_NOT_NONE => op::POP_JUMP_IF_NONE,
                op::POP_JUMP_IF_NONE => op::POP_JUMP_IF_NOT_NONE,
                op::POP_JUMP_IF_FALSE => op::POP_JUMP_IF_TRUE,
                op::POP_JUMP_IF_TRUE => op::POP_JUMP_IF_FALSE,
                _ => 0,
            };
            if is_forward {
                continue;
            }
            let target = last.target();
            let back = self.new_block();
            let label = self.blocks[target].label;
            // 3.12 gives the new jump the conditional jump's location.
            self.blocks[back].instrs.push(Instr {
                op: op::JUMP,
                arg: label,
                target: target as u32,
                loc: last.loc,
                except: NO_BLOCK,
            });
            let next = self.blocks[b].next;
            self.blocks[b].instrs[n].op = reversed;
            self.blocks[b].instrs[n].target = next as u32;
            self.blocks[back].cold = self.blocks[b].cold;
            self.blocks[back].next = next;
            self.blocks[b].next = back;
            cursor = back;
        }
        // resolve_jump_offsets
        loop {
            let mut totsize = 0;
            for_each_block!(self, b => {
                self.blocks[b].offset = totsize;
                totsize += self.blocks[b]
                    .instrs
                    .iter()
                    .map(|i| instr_size(i.op, i.arg))
                    .sum::<i32>();
            });
            let mut recompile = false;
            for_each_block!(self, b => {
                let mut bsize = self.blocks[b].offset;
                // Taken out for the walk, which reads only the blocks' offsets.
                let mut instrs = std::mem::take(&mut self.blocks[b].instrs);
                for instr in &mut instrs {
                    let isize = instr_size(instr.op, instr.arg);
                    bsize += isize;
                    if is_jump(instr.op) {
                        let target_offset = self.blocks[instr.target()].offset;
                        let arg = if target_offset < bsize {
                            bsize - target_offset
                        } else {
                            target_offset - bsize
                        };
                        instr.arg = arg;
                        if instr_size(instr.op, arg) != isize {
                            recompile = true;
                        }
                    }
                }
                self.blocks[b].instrs = instrs;
            });
            if !recompile {
                break;
            }
        }
    }

    /// The final instruction list (`_PyCfg_ToInstructionSequence`), with each instruction's
    /// handler block offset and depth info resolved for the exception table.
    pub(crate) fn instructions(&self) -> Vec<FinalInstr> {
        let mut count = 0;
        for_each_block!(self, b => {
            count += self.blocks[b].instrs.len();
        });
        let mut out = Vec::with_capacity(count);
        for_each_block!(self, b => {
            out.extend(self.blocks[b].instrs.iter().map(|instr| {
                let handler = instr.handler().map(|h| {
                    let block = &self.blocks[h];
                    Handler {
                        offset: block.offset,
                        depth: block.startdepth - 1 - i32::from(block.preserve_lasti),
                        preserve_lasti: block.preserve_lasti,
                    }
                });
                FinalInstr {
                    op: instr.op,
                    arg: instr.arg,
                    size: instr_size(instr.op, instr.arg),
                    loc: instr.loc,
                    handler,
                }
            }));
        });
        out
    }
}

/// An exception handler as the exception table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Handler {
    pub offset: i32,
    pub depth: i32,
    pub preserve_lasti: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct FinalInstr {
    pub op: u16,
    pub arg: i32,
    /// Code units with EXTENDED_ARGs and caches (`instr_size`).
    pub size: i32,
    pub loc: Loc,
    pub handler: Option<Handler>,
}

fn set_op0(instr: &mut Instr, opcode: u16) {
    instr.op = opcode;
    instr.arg = 0;
}

fn set_op1(instr: &mut Instr, opcode: u16, arg: i32) {
    instr.op = opcode;
    instr.arg = arg;
}

/// `swaptimize`: replace a run of SWAPs and NOPs with an optimal one.
fn swaptimize(instrs: &mut [Instr], ix: &mut usize) {
    let start = *ix;
    let mut depth = instrs[start].arg;
    let mut len = 0usize;
    let mut more = false;
    let limit = instrs.len() - start;
    loop {
        len += 1;
        if len >= limit {
            break;
        }
        let opcode = instrs[start + len].op;
        if opcode == op::SWAP {
            depth = depth.max(instrs[start + len].arg);
            more = true;
        } else if opcode != op::NOP {
            break;
        }
    }
    if !more {
        return;
    }
    let depth = depth as usize;
    let mut stack: Vec<isize> = (0..depth as isize).collect();
    for i in 0..len {
        if instrs[start + i].op == op::SWAP {
            let oparg = instrs[start + i].arg as usize;
            stack.swap(0, oparg - 1);
        }
    }
    const VISITED: isize = -1;
    let mut current = len as isize - 1;
    for i in 0..depth {
        if stack[i] == VISITED || stack[i] == i as isize {
            continue;
        }
        let mut j = i;
        loop {
            if j != 0 {
                let instr = &mut instrs[start + current as usize];
                instr.op = op::SWAP;
                instr.arg = j as i32 + 1;
                current -= 1;
            }
            if stack[j] == VISITED {
                break;
            }
            let next_j = stack[j] as usize;
            stack[j] = VISITED;
            j = next_j;
        }
    }
    while current >= 0 {
        set_op0(&mut instrs[start + current as usize], op::NOP);
        current -= 1;
    }
    *ix += len - 1;
}

fn swappable(opcode: u16) -> bool {
    matches!(
        opcode,
        op::STORE_FAST | op::STORE_FAST_MAYBE_NULL | op::POP_TOP
    )
}

fn stores_to(instr: &Instr) -> i32 {
    if matches!(instr.op, op::STORE_FAST | op::STORE_FAST_MAYBE_NULL) {
        instr.arg
    } else {
        -1
    }
}

fn next_swappable_instruction(instrs: &[Instr], mut i: usize, lineno: i32) -> Option<usize> {
    loop {
        i += 1;
        if i >= instrs.len() {
            return None;
        }
        let instr = &instrs[i];
        if lineno >= 0 && instr.loc.line != lineno {
            return None;
        }
        if instr.op == op::NOP {
            continue;
        }
        if swappable(instr.op) {
            return Some(i);
        }
        return None;
    }
}

/// `apply_static_swaps`: swap instructions instead of stack items where it is safe.
fn apply_static_swaps(instrs: &mut [Instr], mut i: isize) {
    while i >= 0 {
        let swap = instrs[i as usize];
        if swap.op != op::SWAP {
            if swap.op == op::NOP || swappable(swap.op) {
                i -= 1;
                continue;
            }
            return;
        }
        let Some(j) = next_swappable_instruction(instrs, i as usize, -1) else {
            return;
        };
        let mut k = j;
        let lineno = instrs[j].loc.line;
        let mut count = swap.arg - 1;
        while count > 0 {
            match next_swappable_instruction(instrs, k, lineno) {
                Some(next) => k = next,
                None => return,
            }
            count -= 1;
        }
        let store_j = stores_to(&instrs[j]);
        let store_k = stores_to(&instrs[k]);
        if store_j >= 0 || store_k >= 0 {
            if store_j == store_k {
                return;
            }
            for idx in j + 1..k {
                let store_idx = stores_to(&instrs[idx]);
                if store_idx >= 0 && (store_idx == store_j || store_idx == store_k) {
                    return;
                }
            }
        }
        set_op0(&mut instrs[i as usize], op::NOP);
        instrs.swap(j, k);
        i -= 1;
    }
}

/// A code unit's constants: a list (the flowgraph appends folded tuples) and CPython's
/// `_PyCode_ConstantKey` index for codegen's additions. The index maps a key's hash to the
/// first constant with that hash (`same_hash` chains the rest), so lookups of plain
/// constants build no key and growing the index rehashes no key.
#[derive(Debug, Default)]
pub(crate) struct Consts {
    pub list: Vec<Const>,
    index: HashMap<u64, u32>,
    same_hash: Vec<u32>,
}

const NO_CONST: u32 = u32::MAX;

/// The hash of a constant's `_PyCode_ConstantKey`: equal keys, equal hashes.
fn key_hash(value: &Const) -> u64 {
    let mut h = FxHasher::default();
    match value {
        Const::None => 0u8.hash(&mut h),
        Const::Ellipsis => 1u8.hash(&mut h),
        Const::Bool(b) => (2u8, b).hash(&mut h),
        Const::Int(i) => (3u8, i).hash(&mut h),
        Const::Float(f) => (4u8, f.to_bits()).hash(&mut h),
        Const::Complex(r, i) => (5u8, r.to_bits(), i.to_bits()).hash(&mut h),
        Const::Str(s) => (6u8, s.as_str()).hash(&mut h),
        Const::Bytes(b) => (7u8, b.as_slice()).hash(&mut h),
        // Computed once per code object, from fields `code_richcompare` compares; hashing the
        // whole key would walk the code, its constants and tables.
        Const::Code(code) => (9u8, code.key_hash()).hash(&mut h),
        _ => (8u8, value.key()).hash(&mut h),
    }
    h.finish()
}

/// `a.key() == b.key()`, building keys only for the nested kinds.
fn same_key(a: &Const, b: &Const) -> bool {
    match (a, b) {
        (Const::None, Const::None) | (Const::Ellipsis, Const::Ellipsis) => true,
        (Const::Bool(x), Const::Bool(y)) => x == y,
        (Const::Int(x), Const::Int(y)) => x == y,
        (Const::Float(x), Const::Float(y)) => x.to_bits() == y.to_bits(),
        (Const::Complex(xr, xi), Const::Complex(yr, yi)) => {
            xr.to_bits() == yr.to_bits() && xi.to_bits() == yi.to_bits()
        }
        (Const::Str(x), Const::Str(y)) => x == y,
        (Const::Bytes(x), Const::Bytes(y)) => x == y,
        _ => std::mem::discriminant(a) == std::mem::discriminant(b) && a.key() == b.key(),
    }
}

impl Consts {
    /// `compiler_add_const`: the index of an equal constant, else a new one.
    pub(crate) fn add(&mut self, value: Const) -> u32 {
        if self.list.capacity() == 0 {
            // Skip the smallest regrowths of the three tables.
            self.list.reserve(16);
            self.same_hash.reserve(16);
            self.index.reserve(16);
        }
        let hash = key_hash(&value);
        let head = self.index.get(&hash).copied().unwrap_or(NO_CONST);
        let mut i = head;
        while i != NO_CONST {
            if same_key(&self.list[i as usize], &value) {
                return i;
            }
            i = self.same_hash[i as usize];
        }
        let i = self.list.len() as u32;
        self.list.push(value);
        self.same_hash.push(head);
        self.index.insert(hash, i);
        i
    }

    /// A tuple folded by the flowgraph: reused when an equal constant is already in the list
    /// (the const cache makes equal tuples one object), else appended.
    fn add_folded(&mut self, value: Const) -> i32 {
        // Every entry is indexed by its key, and no two entries have equal keys.
        self.add(value) as i32
    }

    pub(crate) fn get(&self, i: i32) -> &Const {
        &self.list[i as usize]
    }
}
