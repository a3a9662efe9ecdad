//! What the analysis reads from one parsed module: its docstrings, its imports and the places
//! that read `__doc__`, each with its line.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, ExprContext, Stmt};
use ruff_text_size::{Ranged, TextSize};
use serde::Serialize;

/// Whose docstring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Owner {
    /// The module's own.
    Module,
    /// A class body's.
    Class,
    /// A function's, `async` or not.
    Function,
}

/// A docstring as CPython's compiler finds it: a body's first statement when it is a plain string
/// literal (implicitly concatenated parts included, f-strings not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Docstring {
    /// Whose it is.
    pub owner: Owner,
    /// 1-based lines of the statement's first and last character.
    pub line: u32,
    /// See `line`.
    pub end_line: u32,
}

/// Where an import sits, for pruning: what `if TYPE_CHECKING:` guards never runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guard {
    /// Runs when its code runs (module level, in a function, in a `try`).
    None,
    /// Under `if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`): never at run time.
    TypeChecking,
}

/// One `import` or `from … import` statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Import {
    /// The dotted module as written (`a.b` in `import a.b` and `from .a.b import c`); empty in
    /// `from . import x`.
    pub module: String,
    /// Leading dots of a relative import; 0 for absolute ones.
    pub level: u32,
    /// The imported names of a `from` import (`*` included); empty for `import a.b`, whose
    /// `module` lists one name per statement alias.
    pub names: Vec<String>,
    /// 1-based line of the statement.
    pub line: u32,
    /// Whether it runs.
    pub guard: Guard,
}

/// A way code reads a docstring, which is `None` once docstrings are stripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocRead {
    /// The module's `__doc__` passed to `docopt(...)`.
    Docopt,
    /// `description=__doc__` (argparse and friends).
    Description,
    /// Any other `__doc__` name.
    Name,
    /// `x.__doc__`.
    Attribute,
    /// `inspect.getdoc(...)` or `getdoc(...)`.
    Getdoc,
}

/// One place that reads a docstring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocUse {
    /// How.
    pub read: DocRead,
    /// 1-based line.
    pub line: u32,
}

/// Everything the analysis knows about one module.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModuleFacts {
    /// In source order, the module's first.
    pub docstrings: Vec<Docstring>,
    /// In source order.
    pub imports: Vec<Import>,
    /// In source order.
    pub doc_uses: Vec<DocUse>,
}

/// Read the facts of `module`, whose text is `text`.
pub(super) fn collect(module: &ast::ModModule, text: &str) -> ModuleFacts {
    let mut collector = Collector {
        lines: LineIndex::new(text),
        facts: ModuleFacts::default(),
        type_checking: 0,
        claimed: Vec::new(),
    };
    collector.docstring(Owner::Module, &module.body);
    collector.visit_body(&module.body);
    collector.facts
}

struct Collector {
    lines: LineIndex,
    facts: ModuleFacts,
    /// Depth of `if TYPE_CHECKING:` bodies around the current statement.
    type_checking: usize,
    /// `__doc__` reads already reported as part of a call (`docopt(__doc__)`), by offset.
    claimed: Vec<TextSize>,
}

impl Collector {
    fn line(&self, offset: TextSize) -> u32 {
        self.lines.line(offset)
    }

    fn docstring(&mut self, owner: Owner, body: &[Stmt]) {
        if let Some(Stmt::Expr(ast::StmtExpr { value, range, .. })) = body.first()
            && matches!(value.as_ref(), Expr::StringLiteral(_))
        {
            self.facts.docstrings.push(Docstring {
                owner,
                line: self.line(range.start()),
                end_line: self.line(range.end().checked_sub(1.into()).unwrap_or_default()),
            });
        }
    }

    fn guard(&self) -> Guard {
        if self.type_checking > 0 {
            Guard::TypeChecking
        } else {
            Guard::None
        }
    }

    fn doc_use(&mut self, read: DocRead, offset: TextSize) {
        let line = self.line(offset);
        self.facts.doc_uses.push(DocUse { read, line });
    }
}

fn is_type_checking(test: &Expr) -> bool {
    match test {
        Expr::Name(name) => name.id.as_str() == "TYPE_CHECKING",
        Expr::Attribute(attribute) => attribute.attr.as_str() == "TYPE_CHECKING",
        _ => false,
    }
}

fn is_doc_name(expr: &Expr) -> bool {
    matches!(expr, Expr::Name(name) if name.id.as_str() == "__doc__" && name.ctx == ExprContext::Load)
}

/// The last name of a called function: `docopt` in `docopt.docopt(...)`.
fn callee(func: &Expr) -> Option<&str> {
    match func {
        Expr::Name(name) => Some(name.id.as_str()),
        Expr::Attribute(attribute) => Some(attribute.attr.as_str()),
        _ => None,
    }
}

impl<'a> Visitor<'a> for Collector {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(def) => self.docstring(Owner::Function, &def.body),
            Stmt::ClassDef(class) => self.docstring(Owner::Class, &class.body),
            Stmt::Import(import) => {
                for alias in &import.names {
                    let line = self.line(import.range.start());
                    self.facts.imports.push(Import {
                        module: alias.name.as_str().to_owned(),
                        level: 0,
                        names: Vec::new(),
                        line,
                        guard: self.guard(),
                    });
                }
            }
            Stmt::ImportFrom(import) => {
                let line = self.line(import.range.start());
                self.facts.imports.push(Import {
                    module: import
                        .module
                        .as_ref()
                        .map(|module| module.as_str().to_owned())
                        .unwrap_or_default(),
                    level: import.level,
                    names: import
                        .names
                        .iter()
                        .map(|alias| alias.name.as_str().to_owned())
                        .collect(),
                    line,
                    guard: self.guard(),
                });
            }
            Stmt::If(branch) if is_type_checking(&branch.test) => {
                self.visit_expr(&branch.test);
                self.type_checking += 1;
                self.visit_body(&branch.body);
                self.type_checking -= 1;
                // `else:` runs.
                for clause in &branch.elif_else_clauses {
                    self.visit_elif_else_clause(clause);
                }
                return;
            }
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Name(_) if is_doc_name(expr) && !self.claimed.contains(&expr.start()) => {
                self.doc_use(DocRead::Name, expr.start());
            }
            Expr::Attribute(attribute)
                if attribute.attr.as_str() == "__doc__" && attribute.ctx == ExprContext::Load =>
            {
                self.doc_use(DocRead::Attribute, attribute.start());
            }
            Expr::Call(call) => {
                let name = callee(&call.func);
                if name == Some("getdoc") {
                    self.doc_use(DocRead::Getdoc, call.start());
                }
                // One warning per site: `docopt(__doc__)` and `description=__doc__` say what
                // breaks instead of a plain `__doc__` warning.
                if name == Some("docopt")
                    && let Some(first) = call.arguments.args.first()
                    && is_doc_name(first)
                {
                    self.claimed.push(first.start());
                    self.doc_use(DocRead::Docopt, first.start());
                }
                for keyword in &call.arguments.keywords {
                    if keyword
                        .arg
                        .as_ref()
                        .is_some_and(|arg| arg.as_str() == "description")
                        && is_doc_name(&keyword.value)
                    {
                        self.claimed.push(keyword.value.start());
                        self.doc_use(DocRead::Description, keyword.value.start());
                    }
                }
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
    }
}

/// Offsets to 1-based lines, counting `\n`, `\r\n` and a lone `\r` as CPython's tokenizer does.
struct LineIndex {
    starts: Vec<TextSize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![TextSize::default()];
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            match bytes[at] {
                b'\n' => starts.push(TextSize::try_from(at + 1).unwrap_or_default()),
                b'\r' if bytes.get(at + 1) != Some(&b'\n') => {
                    starts.push(TextSize::try_from(at + 1).unwrap_or_default());
                }
                _ => {}
            }
            at += 1;
        }
        LineIndex { starts }
    }

    fn line(&self, offset: TextSize) -> u32 {
        let index = self.starts.partition_point(|&start| start <= offset);
        u32::try_from(index).unwrap_or(u32::MAX)
    }
}
