//! The symbol table (`Python/symtable.c`), for the scopes the native backend compiles: the
//! module, functions and classes. Closures (cell and free variables) are not compiled
//! natively yet, so any name that would become one makes the module [`Unsupported`].

use super::Unsupported;
use ruff_python_ast::{self as ast, Expr, Stmt};
use std::collections::{BTreeSet, HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    Module,
    Function,
    Class,
}

/// Where a name lives, as `_PyST_GetScope` says (without FREE and CELL, refused earlier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameScope {
    Local,
    GlobalExplicit,
    GlobalImplicit,
    /// A local that nested functions take (a cell).
    Cell,
    /// Taken from an enclosing function.
    Free,
}

#[derive(Debug)]
pub(crate) struct Scope {
    pub kind: ScopeKind,
    /// Names bound in this scope (mangled).
    bound: HashSet<String>,
    /// Names declared `global`.
    globals: HashSet<String>,
    /// Names used (loaded) in this scope.
    used: HashSet<String>,
    /// Parameters in `co_varnames` order: positional, keyword-only, `*args`, `**kwargs`.
    pub params: Vec<String>,
    pub varargs: bool,
    pub varkeywords: bool,
    /// `ste_generator`: a `yield` in the body.
    pub generator: bool,
    /// `ste_nested`: inside a function, directly or through classes.
    pub nested: bool,
    /// Module scope: names bound by an import (`DEF_IMPORT`).
    pub imports: HashSet<String>,
    /// Names bound inside comprehensions inlined into this scope.
    comp_bound: HashSet<String>,
    /// Names used outside any comprehension.
    plain_used: HashSet<String>,
    /// Names declared `nonlocal`.
    nonlocals: HashSet<String>,
    /// `co_cellvars`, sorted as `dictbytype` sorts them.
    pub cells: Vec<String>,
    /// `co_freevars`, sorted.
    pub frees: Vec<String>,
    /// Class scope: free variables of its methods that the class also names itself
    /// (`DEF_FREE_CLASS`): in `co_freevars`, but the class body uses its own binding.
    free_class: HashSet<String>,
    children: Vec<usize>,
}

impl Scope {
    pub(crate) fn scope_of(&self, name: &str) -> NameScope {
        if self.frees.iter().any(|n| n == name) && !self.free_class.contains(name) {
            NameScope::Free
        } else if self.cells.iter().any(|n| n == name) {
            NameScope::Cell
        } else if self.globals.contains(name) {
            NameScope::GlobalExplicit
        } else if self.bound.contains(name) {
            NameScope::Local
        } else {
            NameScope::GlobalImplicit
        }
    }
}

pub(crate) struct SymTable {
    pub scopes: Vec<Scope>,
    /// The scope of each function or class statement, by its address.
    by_node: HashMap<usize, usize>,
    /// Each inlined comprehension (PEP 709), by its address: the names it binds, in the
    /// order of its symbol table (first occurrence, then those of comprehensions inside it).
    comps: HashMap<usize, Vec<String>>,
}

impl SymTable {
    pub(crate) fn scope_for(&self, node: usize) -> Option<usize> {
        self.by_node.get(&node).copied()
    }
    /// Whether the module's own table has a symbol `name` (`_PyST_GetScope(st_top) != 0`).
    pub(crate) fn module_mentions(&self, name: &str) -> bool {
        let module = &self.scopes[0];
        module.used.contains(name)
            || module.bound.contains(name)
            || module.globals.contains(name)
            || module.comp_bound.contains(name)
    }

    pub(crate) fn comp_locals(&self, node: usize) -> Option<&[String]> {
        self.comps.get(&node).map(Vec::as_slice)
    }
}

/// A comprehension being read: its symbols in order, and which it binds.
#[derive(Default)]
struct Comp {
    order: Vec<String>,
    bound: HashSet<String>,
}

impl Comp {
    fn note(&mut self, name: &str, bound: bool) {
        if !self.order.iter().any(|n| n == name) {
            self.order.push(name.to_owned());
        }
        if bound {
            self.bound.insert(name.to_owned());
        }
    }
}

/// `_Py_Mangle`: `__x` inside class `C` is `_C__x`.
pub(crate) fn mangle(private: Option<&str>, name: &str) -> String {
    let Some(private) = private else {
        return name.to_owned();
    };
    if !name.starts_with("__") || name.ends_with("__") || name.contains('.') {
        return name.to_owned();
    }
    let stripped = private.trim_start_matches('_');
    if stripped.is_empty() {
        return name.to_owned();
    }
    format!("_{stripped}{name}")
}

struct Builder {
    scopes: Vec<Scope>,
    by_node: HashMap<usize, usize>,
    comps: HashMap<usize, Vec<String>>,
    comp_stack: Vec<Comp>,
    cur: usize,
    private: Option<String>,
    /// `from __future__ import annotations` is in effect.
    future_annotations: bool,
}

type R = Result<(), Unsupported>;

pub(crate) fn build(module: &ast::ModModule) -> Result<SymTable, Unsupported> {
    let mut builder = Builder {
        scopes: vec![new_scope(ScopeKind::Module, false)],
        by_node: HashMap::new(),
        comps: HashMap::new(),
        comp_stack: Vec::new(),
        cur: 0,
        private: None,
        future_annotations: future_annotations(module),
    };
    builder.stmts(&module.body)?;
    let mut table = SymTable {
        scopes: builder.scopes,
        by_node: builder.by_node,
        comps: builder.comps,
    };
    let free = analyze(&mut table, 0, &HashSet::new())?;
    if !free.is_empty() {
        return Err(Unsupported::Construct("a free variable at module level"));
    }
    Ok(table)
}

/// Whether the `from __future__` imports at the start of the module (after a docstring)
/// include `annotations`.
fn future_annotations(module: &ast::ModModule) -> bool {
    let mut body = module.body.iter().peekable();
    if let Some(Stmt::Expr(e)) = body.peek() {
        if e.value.is_string_literal_expr() {
            body.next();
        }
    }
    body.map_while(|stmt| match stmt {
        Stmt::ImportFrom(import)
            if import.level == 0
                && import
                    .module
                    .as_ref()
                    .is_some_and(|m| m.as_str() == "__future__") =>
        {
            Some(
                import
                    .names
                    .iter()
                    .any(|a| a.name.as_str() == "annotations"),
            )
        }
        _ => None,
    })
    .any(|annotations| annotations)
}

/// The SyntaxErrors of an annotation block: no `yield`, `await` or `:=` (anywhere in it, even
/// where nothing evaluates it, as in a function body).
fn check_annotation_block(annotation: &Expr) -> R {
    use ruff_python_ast::visitor::{Visitor, walk_expr};
    struct Forbidden(bool);
    impl<'b> Visitor<'b> for Forbidden {
        fn visit_expr(&mut self, expr: &'b Expr) {
            match expr {
                Expr::Yield(_) | Expr::YieldFrom(_) | Expr::Await(_) | Expr::Named(_) => {
                    self.0 = true;
                }
                _ => walk_expr(self, expr),
            }
        }
    }
    let mut forbidden = Forbidden(false);
    forbidden.visit_expr(annotation);
    if forbidden.0 {
        return Err(Unsupported::Parse(
            "yield, await or := in an annotation".into(),
        ));
    }
    Ok(())
}

fn new_scope(kind: ScopeKind, nested: bool) -> Scope {
    Scope {
        kind,
        bound: HashSet::new(),
        globals: HashSet::new(),
        used: HashSet::new(),
        params: Vec::new(),
        varargs: false,
        varkeywords: false,
        generator: false,
        nested,
        imports: HashSet::new(),
        comp_bound: HashSet::new(),
        plain_used: HashSet::new(),
        nonlocals: HashSet::new(),
        cells: Vec::new(),
        frees: Vec::new(),
        free_class: HashSet::new(),
        children: Vec::new(),
    }
}

/// `analyze_block`, for functions (cells and free variables) and, without closures through
/// them, classes and the module: gives the names `scope` needs from enclosing functions.
/// Anything else closure-related (a class in the way, `super()`, a comprehension variable
/// taken by a nested scope) is refused.
fn analyze(
    table: &mut SymTable,
    scope: usize,
    bound: &HashSet<String>,
) -> Result<BTreeSet<String>, Unsupported> {
    let s = &table.scopes[scope];
    let kind = s.kind;
    let mut newbound: HashSet<String> = bound
        .iter()
        .filter(|n| !s.globals.contains(*n))
        .cloned()
        .collect();
    let mut own_free = BTreeSet::new();
    match kind {
        ScopeKind::Function => {
            for name in &s.nonlocals {
                if !bound.contains(name) || s.globals.contains(name) {
                    // CPython: no binding for nonlocal found.
                    return Err(Unsupported::Construct("a nonlocal without a binding"));
                }
                own_free.insert(name.clone());
            }
            for name in s.used.iter().chain(&s.bound).chain(&s.comp_bound) {
                if s.globals.contains(name) || s.nonlocals.contains(name) || s.bound.contains(name)
                {
                    continue;
                }
                if s.comp_bound.contains(name) && !s.plain_used.contains(name) {
                    continue;
                }
                if bound.contains(name) {
                    own_free.insert(name.clone());
                }
            }
            for name in &s.bound {
                if !s.globals.contains(name) && !s.nonlocals.contains(name) {
                    newbound.insert(name.clone());
                }
            }
        }
        ScopeKind::Class => {
            // Methods see the class's implicit `__class__` cell.
            newbound.insert("__class__".to_owned());
            for name in &s.used {
                if !s.bound.contains(name) && !s.globals.contains(name) && bound.contains(name) {
                    own_free.insert(name.clone());
                }
            }
        }
        ScopeKind::Module => {}
    }
    // An inlined comprehension is a function scope to what is nested in it: its variables
    // are bound for them (conservatively for every child; such a closure is refused below).
    for name in &table.scopes[scope].comp_bound {
        newbound.insert(name.clone());
    }
    let children = table.scopes[scope].children.clone();
    let mut child_free = BTreeSet::new();
    for child in children {
        child_free.extend(analyze(table, child, &newbound)?);
    }
    let s = &table.scopes[scope];
    let mut cells = Vec::new();
    let mut free_class = HashSet::new();
    for name in child_free {
        if kind == ScopeKind::Class && name == "__class__" {
            // drop_class_free: the class makes the cell (ste_needs_class_closure).
            cells.push(name);
            continue;
        }
        if kind == ScopeKind::Class {
            // update_symbols: a method's free variable passes through the class.
            if s.bound.contains(&name) || s.globals.contains(&name) || s.used.contains(&name) {
                if s.globals.contains(&name) {
                    return Err(Unsupported::Construct("a class global taken by a method"));
                }
                if s.bound.contains(&name) {
                    free_class.insert(name.clone());
                }
            }
            own_free.insert(name);
            continue;
        }
        if kind != ScopeKind::Function {
            return Err(Unsupported::Construct(
                "a closure in a module-level comprehension",
            ));
        }
        let local =
            s.bound.contains(&name) && !s.globals.contains(&name) && !s.nonlocals.contains(&name);
        if local {
            cells.push(name);
        } else if s.comp_bound.contains(&name) && !s.plain_used.contains(&name) {
            return Err(Unsupported::Construct(
                "a comprehension variable in a closure",
            ));
        } else {
            own_free.insert(name);
        }
    }
    for name in &s.comp_bound {
        if cells.contains(name) || own_free.contains(name) {
            return Err(Unsupported::Construct(
                "a comprehension variable that is a cell or free",
            ));
        }
    }
    cells.sort();
    let s = &mut table.scopes[scope];
    s.cells = cells;
    s.frees = own_free.iter().cloned().collect();
    s.free_class = free_class;
    Ok(own_free)
}

impl Builder {
    fn scope(&mut self) -> &mut Scope {
        &mut self.scopes[self.cur]
    }

    fn mangled(&self, name: &str) -> String {
        mangle(self.private.as_deref(), name)
    }

    fn bind(&mut self, name: &str) -> R {
        let name = self.mangled(name);
        if let Some(comp) = self.comp_stack.last_mut() {
            comp.note(&name, true);
            self.scope().comp_bound.insert(name);
            return Ok(());
        }
        self.scope().bound.insert(name);
        Ok(())
    }

    fn use_name(&mut self, name: &str) {
        let name = self.mangled(name);
        if let Some(comp) = self.comp_stack.last_mut() {
            comp.note(&name, false);
        } else {
            self.scope().plain_used.insert(name.clone());
        }
        self.scope().used.insert(name);
    }

    /// `symtable_handle_comprehension` for a comprehension CPython 3.12 inlines.
    fn comprehension(
        &mut self,
        node: usize,
        generators: &[ast::Comprehension],
        elt: &Expr,
        value: Option<&Expr>,
    ) -> R {
        if self.scopes[self.cur].kind == ScopeKind::Class {
            return Err(Unsupported::Construct("a comprehension in a class body"));
        }
        if generators.iter().any(|g| g.is_async) {
            return Err(Unsupported::Construct("async comprehensions"));
        }
        let outermost = &generators[0];
        self.expr(&outermost.iter)?;
        self.comp_stack.push(Comp::default());
        self.expr(&outermost.target)?;
        for cond in &outermost.ifs {
            self.expr(cond)?;
        }
        for generator in &generators[1..] {
            self.expr(&generator.target)?;
            self.expr(&generator.iter)?;
            for cond in &generator.ifs {
                self.expr(cond)?;
            }
        }
        if let Some(value) = value {
            self.expr(value)?;
        }
        self.expr(elt)?;
        let comp = self.comp_stack.pop().expect("pushed above");
        let bound: Vec<String> = comp
            .order
            .iter()
            .filter(|n| comp.bound.contains(*n))
            .cloned()
            .collect();
        // inline_comprehension: an enclosing comprehension takes over the names.
        if let Some(outer) = self.comp_stack.last_mut() {
            for name in &comp.order {
                outer.note(name, comp.bound.contains(name));
            }
        }
        self.comps.insert(node, bound);
        Ok(())
    }

    fn stmts(&mut self, body: &[Stmt]) -> R {
        for stmt in body {
            self.stmt(stmt)?;
        }
        Ok(())
    }

    fn enter(&mut self, kind: ScopeKind, node: usize) -> usize {
        let parent = self.cur;
        let nested = self.scopes[parent].nested || self.scopes[parent].kind == ScopeKind::Function;
        self.scopes.push(new_scope(kind, nested));
        let id = self.scopes.len() - 1;
        self.scopes[parent].children.push(id);
        self.by_node.insert(node, id);
        self.cur = id;
        id
    }

    /// `symtable_visit_annotation`: under `from __future__ import annotations` an annotation
    /// is a block of its own that is never a child of the enclosing one (never analyzed, never
    /// compiled), so the names in it bind or free nothing.
    fn annotation(&mut self, annotation: &Expr) -> R {
        if self.future_annotations {
            return check_annotation_block(annotation);
        }
        self.expr(annotation)
    }

    fn stmt(&mut self, stmt: &Stmt) -> R {
        match stmt {
            Stmt::FunctionDef(def) => {
                if def.is_async {
                    return Err(Unsupported::Construct("async def"));
                }
                if def.type_params.is_some() {
                    return Err(Unsupported::Construct("type parameters"));
                }
                for decorator in &def.decorator_list {
                    self.expr(&decorator.expression)?;
                }
                self.parameters_outer(&def.parameters)?;
                if let Some(returns) = &def.returns {
                    self.annotation(returns)?;
                }
                self.bind(&def.name)?;
                let parent = self.cur;
                self.enter(ScopeKind::Function, std::ptr::from_ref(def) as usize);
                self.parameters_inner(&def.parameters)?;
                self.stmts(&def.body)?;
                self.cur = parent;
            }
            Stmt::ClassDef(class) => {
                if class.type_params.is_some() {
                    return Err(Unsupported::Construct("type parameters"));
                }
                for decorator in &class.decorator_list {
                    self.expr(&decorator.expression)?;
                }
                if let Some(arguments) = &class.arguments {
                    for arg in &arguments.args {
                        self.expr(arg)?;
                    }
                    for keyword in &arguments.keywords {
                        self.expr(&keyword.value)?;
                    }
                }
                self.bind(&class.name)?;
                let parent = self.cur;
                let private = self.private.replace(class.name.to_string());
                self.enter(ScopeKind::Class, std::ptr::from_ref(class) as usize);
                self.stmts(&class.body)?;
                self.cur = parent;
                self.private = private;
            }
            Stmt::Return(ret) => {
                if let Some(value) = &ret.value {
                    self.expr(value)?;
                }
            }
            Stmt::Delete(del) => {
                for target in &del.targets {
                    self.expr(target)?;
                }
            }
            Stmt::Assign(assign) => {
                self.expr(&assign.value)?;
                for target in &assign.targets {
                    self.expr(target)?;
                }
            }
            Stmt::AugAssign(aug) => {
                self.expr(&aug.target)?;
                if let Expr::Name(name) = &*aug.target {
                    self.use_name(&name.id);
                }
                self.expr(&aug.value)?;
            }
            Stmt::AnnAssign(ann) => {
                if let Expr::Name(name) = &*ann.target {
                    let mangled = self.mangled(&name.id);
                    if self.scopes[self.cur].globals.contains(&mangled) {
                        return Err(Unsupported::Construct("an annotated global"));
                    }
                    self.bind(&name.id)?;
                } else {
                    self.expr(&ann.target)?;
                }
                self.annotation(&ann.annotation)?;
                if let Some(value) = &ann.value {
                    self.expr(value)?;
                }
            }
            Stmt::For(stmt) => {
                if stmt.is_async {
                    return Err(Unsupported::Construct("async for"));
                }
                self.expr(&stmt.target)?;
                self.expr(&stmt.iter)?;
                self.stmts(&stmt.body)?;
                self.stmts(&stmt.orelse)?;
            }
            Stmt::While(stmt) => {
                self.expr(&stmt.test)?;
                self.stmts(&stmt.body)?;
                self.stmts(&stmt.orelse)?;
            }
            Stmt::If(stmt) => {
                self.expr(&stmt.test)?;
                self.stmts(&stmt.body)?;
                for clause in &stmt.elif_else_clauses {
                    if let Some(test) = &clause.test {
                        self.expr(test)?;
                    }
                    self.stmts(&clause.body)?;
                }
            }
            Stmt::Raise(raise) => {
                if let Some(exc) = &raise.exc {
                    self.expr(exc)?;
                }
                if let Some(cause) = &raise.cause {
                    self.expr(cause)?;
                }
            }
            Stmt::Assert(assert) => {
                self.expr(&assert.test)?;
                if let Some(msg) = &assert.msg {
                    self.expr(msg)?;
                }
            }
            Stmt::Import(import) => {
                for alias in &import.names {
                    let stored = match &alias.asname {
                        Some(asname) => asname.to_string(),
                        None => alias.name.split('.').next().unwrap_or_default().to_owned(),
                    };
                    self.bind_import(&stored)?;
                }
            }
            Stmt::ImportFrom(import) => {
                for alias in &import.names {
                    if alias.name.as_str() == "*" {
                        if self.scopes[self.cur].kind != ScopeKind::Module {
                            return Err(Unsupported::Construct("import * outside the module"));
                        }
                        continue;
                    }
                    let stored = alias.asname.as_ref().unwrap_or(&alias.name).to_string();
                    self.bind_import(&stored)?;
                }
            }
            Stmt::Global(global) => {
                for name in &global.names {
                    let mangled = self.mangled(name);
                    let scope = &self.scopes[self.cur];
                    if scope.used.contains(&mangled)
                        || scope.bound.contains(&mangled)
                        || scope.params.contains(&mangled)
                    {
                        // CPython: a SyntaxError (used or assigned before the declaration).
                        return Err(Unsupported::Construct("a late global declaration"));
                    }
                    // DEF_GLOBAL also lands in the module's own table (`st_global`): the
                    // module then stores and loads the name as an explicit global.
                    self.scopes[0].globals.insert(mangled.clone());
                    self.scope().globals.insert(mangled);
                }
            }
            Stmt::Expr(expr) => self.expr(&expr.value)?,
            Stmt::Pass(_) | Stmt::Break(_) | Stmt::Continue(_) => {}
            Stmt::Nonlocal(nonlocal) => {
                if self.scopes[self.cur].kind != ScopeKind::Function {
                    return Err(Unsupported::Construct("nonlocal outside a function"));
                }
                for name in &nonlocal.names {
                    let mangled = self.mangled(name);
                    let scope = &self.scopes[self.cur];
                    if scope.used.contains(&mangled)
                        || scope.bound.contains(&mangled)
                        || scope.params.contains(&mangled)
                        || scope.globals.contains(&mangled)
                    {
                        return Err(Unsupported::Construct("a late nonlocal declaration"));
                    }
                    self.scope().nonlocals.insert(mangled);
                }
            }
            Stmt::Try(stmt) => {
                self.stmts(&stmt.body)?;
                for handler in &stmt.handlers {
                    let ast::ExceptHandler::ExceptHandler(handler) = handler;
                    if let Some(type_) = &handler.type_ {
                        self.expr(type_)?;
                    }
                    if let Some(name) = &handler.name {
                        self.bind(name)?;
                    }
                    self.stmts(&handler.body)?;
                }
                self.stmts(&stmt.orelse)?;
                self.stmts(&stmt.finalbody)?;
            }
            Stmt::With(stmt) => {
                for item in &stmt.items {
                    self.expr(&item.context_expr)?;
                    if let Some(vars) = &item.optional_vars {
                        self.expr(vars)?;
                    }
                }
                self.stmts(&stmt.body)?;
            }
            Stmt::Match(_) => return Err(Unsupported::Construct("match")),
            Stmt::TypeAlias(_) => return Err(Unsupported::Construct("type aliases")),
            Stmt::IpyEscapeCommand(_) => return Err(Unsupported::Parse("IPython syntax".into())),
        }
        Ok(())
    }

    fn interpolations(&mut self, elements: &ast::InterpolatedStringElements) -> R {
        for element in elements.iter() {
            if let ast::InterpolatedStringElement::Interpolation(i) = element {
                self.expr(&i.expression)?;
                if let Some(spec) = &i.format_spec {
                    self.interpolations(&spec.elements)?;
                }
            }
        }
        Ok(())
    }

    fn bind_import(&mut self, name: &str) -> R {
        self.bind(name)?;
        if self.scopes[self.cur].kind == ScopeKind::Module {
            let mangled = self.mangled(name);
            self.scope().imports.insert(mangled);
        }
        Ok(())
    }

    /// Defaults and annotations are evaluated in the enclosing scope.
    fn parameters_outer(&mut self, params: &ast::Parameters) -> R {
        for p in params
            .posonlyargs
            .iter()
            .chain(&params.args)
            .chain(&params.kwonlyargs)
        {
            if let Some(default) = &p.default {
                self.expr(default)?;
            }
        }
        for p in params.posonlyargs.iter().chain(&params.args) {
            if let Some(annotation) = &p.parameter.annotation {
                self.annotation(annotation)?;
            }
        }
        if let Some(vararg) = &params.vararg {
            if let Some(annotation) = &vararg.annotation {
                self.annotation(annotation)?;
            }
        }
        for p in &params.kwonlyargs {
            if let Some(annotation) = &p.parameter.annotation {
                self.annotation(annotation)?;
            }
        }
        if let Some(kwarg) = &params.kwarg {
            if let Some(annotation) = &kwarg.annotation {
                self.annotation(annotation)?;
            }
        }
        Ok(())
    }

    fn parameters_inner(&mut self, params: &ast::Parameters) -> R {
        let mut names: Vec<&str> = Vec::new();
        for p in params
            .posonlyargs
            .iter()
            .chain(&params.args)
            .chain(&params.kwonlyargs)
        {
            names.push(&p.parameter.name);
        }
        if let Some(vararg) = &params.vararg {
            names.push(&vararg.name);
            self.scope().varargs = true;
        }
        if let Some(kwarg) = &params.kwarg {
            names.push(&kwarg.name);
            self.scope().varkeywords = true;
        }
        for name in names {
            let mangled = self.mangled(name);
            if self.scopes[self.cur].params.contains(&mangled) {
                return Err(Unsupported::Construct("a duplicate argument"));
            }
            self.scope().params.push(mangled.clone());
            self.scope().bound.insert(mangled);
        }
        Ok(())
    }

    fn expr(&mut self, expr: &Expr) -> R {
        match expr {
            Expr::Name(name) => match name.ctx {
                ast::ExprContext::Load => {
                    self.use_name(&name.id);
                    // `super` in a function implies the `__class__` cell (symtable.c).
                    if name.id.as_str() == "super"
                        && self.scopes[self.cur].kind == ScopeKind::Function
                    {
                        self.use_name("__class__");
                    }
                }
                ast::ExprContext::Store | ast::ExprContext::Del => self.bind(&name.id)?,
                ast::ExprContext::Invalid => return Err(Unsupported::Parse("invalid name".into())),
            },
            Expr::BoolOp(e) => {
                for v in &e.values {
                    self.expr(v)?;
                }
            }
            Expr::Named(e) => {
                let in_genexp = self.scopes[self.cur]
                    .params
                    .first()
                    .is_some_and(|p| p == ".0");
                if !self.comp_stack.is_empty() || in_genexp {
                    return Err(Unsupported::Construct(
                        "a named expression in a comprehension",
                    ));
                }
                if self.scopes[self.cur].kind == ScopeKind::Class {
                    return Err(Unsupported::Construct("a named expression in a class"));
                }
                self.expr(&e.value)?;
                self.expr(&e.target)?;
            }
            Expr::BinOp(e) => {
                self.expr(&e.left)?;
                self.expr(&e.right)?;
            }
            Expr::UnaryOp(e) => self.expr(&e.operand)?,
            Expr::If(e) => {
                self.expr(&e.test)?;
                self.expr(&e.body)?;
                self.expr(&e.orelse)?;
            }
            Expr::Dict(e) => {
                for item in &e.items {
                    if let Some(key) = &item.key {
                        self.expr(key)?;
                    }
                    self.expr(&item.value)?;
                }
            }
            Expr::Set(e) => {
                for v in &e.elts {
                    self.expr(v)?;
                }
            }
            Expr::Compare(e) => {
                self.expr(&e.left)?;
                for v in &e.comparators {
                    self.expr(v)?;
                }
            }
            Expr::Call(e) => {
                self.expr(&e.func)?;
                for arg in &e.arguments.args {
                    self.expr(arg)?;
                }
                for keyword in &e.arguments.keywords {
                    self.expr(&keyword.value)?;
                }
            }
            Expr::Attribute(e) => self.expr(&e.value)?,
            Expr::Subscript(e) => {
                self.expr(&e.value)?;
                self.expr(&e.slice)?;
            }
            Expr::Starred(e) => self.expr(&e.value)?,
            Expr::List(e) => {
                for v in &e.elts {
                    self.expr(v)?;
                }
            }
            Expr::Tuple(e) => {
                for v in &e.elts {
                    self.expr(v)?;
                }
            }
            Expr::Slice(e) => {
                for part in [&e.lower, &e.upper, &e.step].into_iter().flatten() {
                    self.expr(part)?;
                }
            }
            Expr::StringLiteral(_)
            | Expr::BytesLiteral(_)
            | Expr::NumberLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_)
            | Expr::EllipsisLiteral(_) => {}
            Expr::Lambda(lambda) => {
                if let Some(params) = &lambda.parameters {
                    self.parameters_outer(params)?;
                }
                let parent = self.cur;
                // A lambda is its own scope, not part of a comprehension around it.
                let in_comp = !self.comp_stack.is_empty();
                let comps = std::mem::take(&mut self.comp_stack);
                self.enter(ScopeKind::Function, std::ptr::from_ref(lambda) as usize);
                // Inside an inlined comprehension (a function block to symtable.c).
                if in_comp {
                    self.scope().nested = true;
                }
                if let Some(params) = &lambda.parameters {
                    self.parameters_inner(params)?;
                }
                self.expr(&lambda.body)?;
                if self.scopes[self.cur].generator {
                    return Err(Unsupported::Construct("yield in a lambda"));
                }
                self.cur = parent;
                self.comp_stack = comps;
            }
            Expr::ListComp(comp) => {
                self.comprehension(
                    std::ptr::from_ref(comp) as usize,
                    &comp.generators,
                    &comp.elt,
                    None,
                )?;
            }
            Expr::SetComp(comp) => {
                self.comprehension(
                    std::ptr::from_ref(comp) as usize,
                    &comp.generators,
                    &comp.elt,
                    None,
                )?;
            }
            Expr::DictComp(comp) => {
                let Some(key) = &comp.key else {
                    return Err(Unsupported::Parse(
                        "a dict comprehension without a key".into(),
                    ));
                };
                self.comprehension(
                    std::ptr::from_ref(comp) as usize,
                    &comp.generators,
                    key,
                    Some(&comp.value),
                )?;
            }
            Expr::Generator(genexp) => {
                if genexp.generators.iter().any(|g| g.is_async) {
                    return Err(Unsupported::Construct("async generator expressions"));
                }
                let outermost = &genexp.generators[0];
                self.expr(&outermost.iter)?;
                let parent = self.cur;
                let in_comp = !self.comp_stack.is_empty();
                let comps = std::mem::take(&mut self.comp_stack);
                let private = self.private.clone();
                self.enter(ScopeKind::Function, std::ptr::from_ref(genexp) as usize);
                if in_comp {
                    self.scope().nested = true;
                }
                self.scope().params.push(".0".to_owned());
                self.scope().bound.insert(".0".to_owned());
                self.scope().generator = true;
                self.expr(&outermost.target)?;
                for cond in &outermost.ifs {
                    self.expr(cond)?;
                }
                for generator in &genexp.generators[1..] {
                    self.expr(&generator.target)?;
                    self.expr(&generator.iter)?;
                    for cond in &generator.ifs {
                        self.expr(cond)?;
                    }
                }
                self.expr(&genexp.elt)?;
                self.cur = parent;
                self.comp_stack = comps;
                self.private = private;
            }
            Expr::Await(_) => return Err(Unsupported::Construct("await")),
            Expr::Yield(e) => {
                if !self.comp_stack.is_empty() || self.scopes[self.cur].kind != ScopeKind::Function
                {
                    return Err(Unsupported::Construct("yield outside a function body"));
                }
                self.scope().generator = true;
                if let Some(value) = &e.value {
                    self.expr(value)?;
                }
            }
            Expr::YieldFrom(_) => return Err(Unsupported::Construct("yield from")),
            Expr::FString(fstring) => {
                for part in fstring.value.iter() {
                    if let ast::FStringPart::FString(f) = part {
                        self.interpolations(&f.elements)?;
                    }
                }
            }
            Expr::TString(_) => return Err(Unsupported::Parse("t-strings".into())),
            Expr::IpyEscapeCommand(_) => return Err(Unsupported::Parse("IPython syntax".into())),
        }
        Ok(())
    }
}
