//! Evaluating a parsed query on one event: does `FROM` select it, and what do `FILTER`, `SELECT` and `LIMIT` make of it.
//!
//! Values are JSON values. An expression that cannot be evaluated (a missing
//! field, arithmetic on a string, a non-boolean `FILTER`) drops that one
//! event and yields a diagnostic message, as the Actyx node does, instead of
//! failing the whole query.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use super::{BinOp, Expr, Index, Op, Query, TagExpr};

/// What `FROM` looks at.
#[derive(Debug, Clone, Copy)]
pub struct EventMeta<'a> {
    pub tags: &'a [String],
    pub app_id: &'a str,
    /// The event was written by this node.
    pub local: bool,
}

impl TagExpr {
    pub fn matches(&self, meta: &EventMeta<'_>) -> bool {
        match self {
            TagExpr::All => true,
            TagExpr::Local => meta.local,
            TagExpr::Tag(tag) => meta.tags.iter().any(|t| t == tag),
            TagExpr::AppId(id) => meta.app_id == id,
            TagExpr::And(a, b) => a.matches(meta) && b.matches(meta),
            TagExpr::Or(a, b) => a.matches(meta) || b.matches(meta),
        }
    }
}

/// One value a query produced from an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// What goes into the `payload` field.
    pub value: Value,
    /// Computed without reading `_` (a constant `SELECT`): the node then
    /// sends it with empty metadata instead of the event's.
    pub synthetic: bool,
}

/// What one event produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The values to deliver, in order.
    pub outputs: Vec<Output>,
    /// Why parts of the event were dropped, for `warning` diagnostic lines.
    pub diagnostics: Vec<String>,
}

/// Runs a query over events in delivery order; it holds the `LIMIT` counters.
#[derive(Debug, Clone)]
pub struct Pipeline {
    query: Query,
    /// Per op: how many values have passed it (used by `LIMIT`).
    passed: Vec<u64>,
}

impl Pipeline {
    pub fn new(query: Query) -> Self {
        let passed = vec![0; query.ops.len()];
        Self { query, passed }
    }

    pub fn query(&self) -> &Query {
        &self.query
    }

    /// True once a `LIMIT` has let through all it will: no event can produce output any more.
    pub fn exhausted(&self) -> bool {
        self.query
            .ops
            .iter()
            .zip(&self.passed)
            .any(|(op, passed)| matches!(op, Op::Limit(n) if passed >= n))
    }

    /// Whether every op is a `LIMIT`: an event that passes goes out with its
    /// own payload and metadata, so its shared line can be sent as it is.
    pub fn passes_unchanged(&self) -> bool {
        self.query.ops.iter().all(|op| matches!(op, Op::Limit(_)))
    }

    /// [`feed`](Self::feed) for a pipeline that [`passes_unchanged`](Self::passes_unchanged):
    /// whether the event passes, counted as `feed` counts it, without copying
    /// its payload. While no `LIMIT` is exhausted each has room for the one value.
    pub fn admit(&mut self, meta: &EventMeta<'_>) -> bool {
        debug_assert!(self.passes_unchanged());
        if !self.query.source.matches(meta) || self.exhausted() {
            return false;
        }
        for passed in &mut self.passed {
            *passed += 1;
        }
        true
    }

    /// Feeds one event. Events that `FROM` does not select produce nothing.
    pub fn feed(&mut self, meta: &EventMeta<'_>, payload: &Value) -> Outcome {
        let mut outcome = Outcome::default();
        if !self.query.source.matches(meta) || self.exhausted() {
            return outcome;
        }
        let mut values = vec![Output {
            value: payload.clone(),
            synthetic: false,
        }];
        for (op, passed) in self.query.ops.iter().zip(self.passed.iter_mut()) {
            values = match op {
                Op::Filter(condition) => values
                    .into_iter()
                    .filter(|output| match eval(condition, &output.value) {
                        Ok(Value::Bool(keep)) => keep,
                        Ok(other) => {
                            outcome.diagnostics.push(format!("{other} is not a bool"));
                            false
                        }
                        Err(message) => {
                            outcome.diagnostics.push(message);
                            false
                        }
                    })
                    .collect(),
                Op::Select(exprs) => {
                    let mut out = Vec::new();
                    for output in &values {
                        for expr in exprs {
                            match eval(expr, &output.value) {
                                Ok(value) => out.push(Output {
                                    value,
                                    synthetic: output.synthetic || !reads_current(expr),
                                }),
                                Err(message) => outcome.diagnostics.push(message),
                            }
                        }
                    }
                    out
                }
                Op::Limit(n) => {
                    let room = usize::try_from(n.saturating_sub(*passed)).unwrap_or(usize::MAX);
                    values.truncate(room);
                    values
                }
            };
            *passed += values.len() as u64;
        }
        outcome.outputs = values;
        outcome
    }
}

/// A number as AQL computes with it: a natural (`u64`) or a decimal (`f64`).
#[derive(Debug, Clone, Copy)]
enum Num {
    Nat(u64),
    Dec(f64),
}

impl Num {
    /// Payload numbers: non-negative integers are naturals, the rest decimals.
    fn of(value: &Value) -> Option<Num> {
        let Value::Number(n) = value else { return None };
        match n.as_u64() {
            Some(u) => Some(Num::Nat(u)),
            None => n.as_f64().map(Num::Dec),
        }
    }

    fn float(self) -> f64 {
        match self {
            // Precision loss past 2^53 is what the node does too.
            #[allow(clippy::cast_precision_loss)]
            Num::Nat(n) => n as f64,
            Num::Dec(d) => d,
        }
    }

    fn into_value(self) -> Result<Value, String> {
        match self {
            Num::Nat(n) => Ok(Value::Number(n.into())),
            Num::Dec(d) => Number::from_f64(d).map(Value::Number).ok_or_else(|| {
                if d.is_nan() {
                    "not a number".to_owned()
                } else if d < 0.0 {
                    "floating-point underflow".to_owned()
                } else {
                    "floating-point overflow".to_owned()
                }
            }),
        }
    }
}

fn compare_numbers(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Nat(a), Num::Nat(b)) => Some(a.cmp(&b)),
        _ => a.float().partial_cmp(&b.float()),
    }
}

/// The name of a value's kind, as the node's messages write it.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "Null",
        Value::Bool(_) => "Bool",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Object",
    }
}

/// Evaluates `expr` with `_` bound to `current`; the error says why, for a diagnostic.
pub fn eval(expr: &Expr, current: &Value) -> Result<Value, String> {
    Ok(match expr {
        Expr::Null => Value::Null,
        Expr::Bool(b) => Value::Bool(*b),
        Expr::Natural(n) => Value::Number((*n).into()),
        Expr::Decimal(d) => Num::Dec(*d).into_value()?,
        Expr::Str(s) => Value::String(s.clone()),
        Expr::Current => current.clone(),
        Expr::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| eval(item, current))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Object(fields) => {
            let mut map = Map::new();
            for (name, value) in fields {
                map.insert(name.clone(), eval(value, current)?);
            }
            Value::Object(map)
        }
        Expr::Index(base, index) => {
            let base = eval(base, current)?;
            match (index, &base) {
                (Index::Field(name), Value::Object(map)) => map
                    .get(name)
                    .cloned()
                    .ok_or_else(|| format!("property `{name}` not found in Object"))?,
                (Index::Position(i), Value::Array(items)) => usize::try_from(*i)
                    .ok()
                    .and_then(|i| items.get(i))
                    .cloned()
                    .ok_or_else(|| format!("property `{i}` not found in Array"))?,
                (Index::Field(name), other) => {
                    return Err(format!("property `{name}` not found in {}", kind(other)));
                }
                (Index::Position(i), other) => {
                    return Err(format!("property `{i}` not found in {}", kind(other)));
                }
            }
        }
        Expr::IsDefined(inner) => Value::Bool(eval(inner, current).is_ok()),
        Expr::Not(inner) => match eval(inner, current)? {
            Value::Bool(b) => Value::Bool(!b),
            other => return Err(format!("{other} is not a bool")),
        },
        Expr::Binary(op, left, right) => binary(*op, left, right, current)?,
    })
}

fn symbol(op: BinOp) -> &'static str {
    match op {
        BinOp::Alternative => "??",
        BinOp::Or => "|",
        BinOp::Xor => "~",
        BinOp::And => "&",
        BinOp::Eq => "=",
        BinOp::Ne => "!=",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Rem => "%",
        BinOp::Pow => "^",
    }
}

fn binary(op: BinOp, left: &Expr, right: &Expr, current: &Value) -> Result<Value, String> {
    if op == BinOp::Alternative {
        return eval(left, current).or_else(|_| eval(right, current));
    }
    // Both sides are evaluated, also for the logical operators: an error on
    // either side is an error of the whole, as on the node.
    let l = eval(left, current)?;
    let r = eval(right, current)?;
    match op {
        BinOp::And | BinOp::Or | BinOp::Xor => {
            let (Value::Bool(a), Value::Bool(b)) = (&l, &r) else {
                let culprit = if matches!(l, Value::Bool(_)) { &r } else { &l };
                return Err(format!("{culprit} is not a bool"));
            };
            Ok(Value::Bool(match op {
                BinOp::And => *a && *b,
                BinOp::Or => *a || *b,
                _ => a ^ b,
            }))
        }
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let ordering = order(&l, &r).ok_or_else(|| {
                format!(
                    "binary operation {} cannot be applied to {} and {}",
                    symbol(op),
                    kind(&l),
                    kind(&r)
                )
            })?;
            Ok(Value::Bool(match op {
                BinOp::Eq => ordering == Ordering::Equal,
                BinOp::Ne => ordering != Ordering::Equal,
                BinOp::Lt => ordering == Ordering::Less,
                BinOp::Le => ordering != Ordering::Greater,
                BinOp::Gt => ordering == Ordering::Greater,
                _ => ordering != Ordering::Less,
            }))
        }
        _ => arithmetic(op, &l, &r),
    }
}

/// Order between values of the same simple kind; `None` across kinds and for arrays and objects.
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => compare_numbers(Num::of(a)?, Num::of(b)?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

fn arithmetic(op: BinOp, l: &Value, r: &Value) -> Result<Value, String> {
    let number = |v: &Value| Num::of(v).ok_or_else(|| format!("`{v}` is not of type Number"));
    let (a, b) = (number(l)?, number(r)?);
    let result = match (a, b) {
        (Num::Nat(x), Num::Nat(y)) => Num::Nat(match op {
            BinOp::Add => x.checked_add(y).ok_or("integer overflow")?,
            BinOp::Sub => x.checked_sub(y).ok_or("integer overflow")?,
            BinOp::Mul => x.checked_mul(y).ok_or("integer overflow")?,
            BinOp::Div => x.checked_div(y).ok_or("division by zero")?,
            BinOp::Rem => x.checked_rem(y).ok_or("division by zero")?,
            _ => {
                let e = u32::try_from(y).map_err(|_| "integer overflow")?;
                x.checked_pow(e).ok_or("integer overflow")?
            }
        }),
        _ => {
            let (x, y) = (a.float(), b.float());
            Num::Dec(match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                BinOp::Rem => x % y,
                _ => x.powf(y),
            })
        }
    };
    result.into_value()
}

/// Whether `expr` reads `_`; a value computed without it carries no event's metadata.
pub fn reads_current(expr: &Expr) -> bool {
    match expr {
        Expr::Current => true,
        Expr::Null | Expr::Bool(_) | Expr::Natural(_) | Expr::Decimal(_) | Expr::Str(_) => false,
        Expr::Array(items) => items.iter().any(reads_current),
        Expr::Object(fields) => fields.iter().any(|(_, e)| reads_current(e)),
        Expr::Index(base, _) => reads_current(base),
        Expr::IsDefined(inner) | Expr::Not(inner) => reads_current(inner),
        Expr::Binary(_, a, b) => reads_current(a) || reads_current(b),
    }
}
