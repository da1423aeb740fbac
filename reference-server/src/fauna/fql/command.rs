//! What a parsed FQL expression asks for, recognised by shape.

use serde_json::{Map, Value};

use super::FqlError;
use super::parse::Expr;

/// An event source as FQL names it.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// `C.all()`
    All { collection: String },
    /// `C.where(.path == value)`
    Where {
        collection: String,
        path: Vec<String>,
        value: Value,
    },
    /// `Set.single(C.byId(id))`
    Document { collection: String, id: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    CreateCollection {
        name: String,
        history_days: Option<u64>,
    },
    Create {
        collection: String,
        data: Map<String, Value>,
    },
    Get {
        collection: String,
        id: String,
    },
    Update {
        collection: String,
        id: String,
        data: Map<String, Value>,
    },
    Replace {
        collection: String,
        id: String,
        data: Map<String, Value>,
    },
    Delete {
        collection: String,
        id: String,
    },
    EventSource(SourceSpec),
}

fn unsupported(what: &str) -> FqlError {
    FqlError::unsupported(0, what)
}

/// `name.method(args)`: the pieces, if `expr` has that shape.
fn method_call(expr: &Expr) -> Option<(&Expr, &str, &[Expr])> {
    let Expr::Call(callee, args) = expr else {
        return None;
    };
    let Expr::Field(base, method) = &**callee else {
        return None;
    };
    Some((strip_non_null(base), method.as_str(), args.as_slice()))
}

fn strip_non_null(expr: &Expr) -> &Expr {
    match expr {
        Expr::NonNull(inner) => strip_non_null(inner),
        other => other,
    }
}

/// A collection name: an identifier starting with a capital letter, not `Collection` or `Set`.
fn collection(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Ident(name)
            if name.starts_with(|c: char| c.is_ascii_uppercase())
                && name != "Collection"
                && name != "Set" =>
        {
            Some(name.clone())
        }
        _ => None,
    }
}

/// `C.byId(id)`: the collection and id.
fn by_id(expr: &Expr) -> Result<Option<(String, String)>, FqlError> {
    let Some((base, "byId", args)) = method_call(strip_non_null(expr)) else {
        return Ok(None);
    };
    let Some(name) = collection(base) else {
        return Ok(None);
    };
    let [arg] = args else {
        return Err(FqlError::syntax(0, "byId takes one argument".to_owned()));
    };
    let id = match literal(arg)? {
        Value::String(id) => id,
        Value::Number(n) if n.is_u64() => n.to_string(),
        other => {
            return Err(FqlError::syntax(
                0,
                format!("byId takes a document id (a string of digits), not {other}"),
            ));
        }
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 19 {
        return Err(FqlError::syntax(
            0,
            format!("{id:?} is not a document id: ids are up to 19 digits"),
        ));
    }
    Ok(Some((name, id)))
}

/// A literal value: JSON literals, objects, arrays, interpolated values.
pub fn literal(expr: &Expr) -> Result<Value, FqlError> {
    Ok(match expr {
        Expr::Str(s) => Value::String(s.clone()),
        Expr::Int(n) => Value::from(*n),
        Expr::Double(d) => serde_json::Number::from_f64(*d)
            .map(Value::Number)
            .ok_or_else(|| FqlError::syntax(0, format!("{d} is not a finite number")))?,
        Expr::Bool(b) => Value::Bool(*b),
        Expr::Null => Value::Null,
        Expr::Value(v) => v.clone(),
        Expr::Array(items) => Value::Array(items.iter().map(literal).collect::<Result<_, _>>()?),
        Expr::Object(fields) => {
            let mut map = Map::new();
            for (name, value) in fields {
                map.insert(name.clone(), literal(value)?);
            }
            Value::Object(map)
        }
        _ => {
            return Err(unsupported(
                "computed values (only literals and interpolated values are evaluated)",
            ));
        }
    })
}

/// Document data: an object without the fields Fauna keeps for itself.
fn data(args: &[Expr], method: &str) -> Result<Map<String, Value>, FqlError> {
    let [arg] = args else {
        return Err(FqlError::syntax(0, format!("{method} takes one object")));
    };
    let Value::Object(map) = literal(arg)? else {
        return Err(FqlError::syntax(0, format!("{method} takes an object")));
    };
    for reserved in ["id", "coll", "ts", "ttl", "data"] {
        if map.contains_key(reserved) {
            return Err(unsupported(&format!(
                "setting the reserved field `{reserved}`"
            )));
        }
    }
    Ok(map)
}

/// `.f == v`, `v == .f`, `x => x.f == v`: the field path and the value.
fn condition(expr: &Expr) -> Result<(Vec<String>, Value), FqlError> {
    let (param, body) = match expr {
        Expr::Lambda(param, body) => (Some(param.as_str()), &**body),
        other => (None, other),
    };
    let Expr::Eq(left, right) = body else {
        return Err(unsupported(
            "where() conditions other than `.field == value`",
        ));
    };
    let path_of = |side: &Expr| -> Option<Vec<String>> {
        match (side, param) {
            (Expr::Path(path), None) => Some(path.clone()),
            (other, Some(param)) => {
                let mut path = Vec::new();
                let mut at = other;
                while let Expr::Field(base, name) = at {
                    path.push(name.clone());
                    at = base;
                }
                path.reverse();
                (matches!(at, Expr::Ident(p) if p == param) && !path.is_empty()).then_some(path)
            }
            _ => None,
        }
    };
    if let Some(path) = path_of(left) {
        Ok((path, literal(right)?))
    } else if let Some(path) = path_of(right) {
        Ok((path, literal(left)?))
    } else {
        Err(unsupported(
            "where() conditions other than `.field == value`",
        ))
    }
}

fn source(expr: &Expr) -> Result<SourceSpec, FqlError> {
    let expr = strip_non_null(expr);
    if let Some((base, method, args)) = method_call(expr) {
        if method == "single" && matches!(base, Expr::Ident(s) if s == "Set") {
            let [arg] = args else {
                return Err(FqlError::syntax(
                    0,
                    "Set.single takes one document".to_owned(),
                ));
            };
            if let Some((collection, id)) = by_id(arg)? {
                return Ok(SourceSpec::Document { collection, id });
            }
            return Err(unsupported("Set.single of anything but C.byId(id)"));
        }
        if let Some(collection) = collection(base) {
            match (method, args) {
                ("all", []) => return Ok(SourceSpec::All { collection }),
                ("where", [cond]) => {
                    let (path, value) = condition(cond)?;
                    return Ok(SourceSpec::Where {
                        collection,
                        path,
                        value,
                    });
                }
                _ => {}
            }
        }
    }
    Err(unsupported(
        "event sources other than C.all(), C.where(.field == value) and Set.single(C.byId(id))",
    ))
}

/// The command `expr` stands for.
pub fn interpret(expr: &Expr) -> Result<Command, FqlError> {
    if let Some((collection, id)) = by_id(expr)? {
        return Ok(Command::Get { collection, id });
    }
    let Some((base, method, args)) = method_call(expr) else {
        return Err(unsupported("this expression"));
    };
    match method {
        "eventSource" if args.is_empty() => return Ok(Command::EventSource(source(base)?)),
        "eventsOn" => return Err(unsupported("eventsOn()")),
        "changesOn" => return Err(unsupported("changesOn()")),
        _ => {}
    }
    if matches!(base, Expr::Ident(c) if c == "Collection") && method == "create" {
        let [arg] = args else {
            return Err(FqlError::syntax(
                0,
                "Collection.create takes one object".to_owned(),
            ));
        };
        let Value::Object(definition) = literal(arg)? else {
            return Err(FqlError::syntax(
                0,
                "Collection.create takes an object".to_owned(),
            ));
        };
        let name = match definition.get("name") {
            Some(Value::String(name)) => name.clone(),
            _ => {
                return Err(FqlError::syntax(
                    0,
                    "a collection needs a `name`".to_owned(),
                ));
            }
        };
        let history_days = match definition.get("history_days") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.is_u64() => n.as_u64(),
            Some(other) => {
                return Err(FqlError::syntax(
                    0,
                    format!("history_days must be a whole number of days, not {other}"),
                ));
            }
        };
        if let Some(other) = definition
            .keys()
            .find(|k| k.as_str() != "name" && k.as_str() != "history_days")
        {
            return Err(unsupported(&format!("the collection setting `{other}`")));
        }
        return Ok(Command::CreateCollection { name, history_days });
    }
    if let Some(collection) = collection(base)
        && method == "create"
    {
        return Ok(Command::Create {
            collection,
            data: data(args, "create")?,
        });
    }
    if let Some((collection, id)) = by_id(base)? {
        return match (method, args) {
            ("update", _) => Ok(Command::Update {
                collection,
                id,
                data: data(args, "update")?,
            }),
            ("replace", _) => Ok(Command::Replace {
                collection,
                id,
                data: data(args, "replace")?,
            }),
            ("delete", []) => Ok(Command::Delete { collection, id }),
            _ => Err(unsupported(&format!("the document method `{method}`"))),
        };
    }
    Err(unsupported(&format!("the method `{method}` here")))
}
