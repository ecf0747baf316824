//! One StatusCollector, compiled, and the table it makes from the reports of the edge
//! clusters a workload object goes to: an SQL `SELECT` over one row per cluster.
//!
//! - `filter` is the `WHERE`: a row is kept when it is `true`; `false` and `null` drop it;
//!   anything else, or an error, drops it with a row error in column `""`.
//! - `select` gives one row per kept cluster (ordered by cluster name). An expression that
//!   fails leaves the row out, with a row error naming its column.
//! - `combinedFields` aggregate the kept rows, per `groupBy` key (groups ordered by key)
//!   or over all of them as one row. COUNT counts rows; SUM, AVG, MIN and MAX take their
//!   subject as a number, a number given as a string is parsed, and a value that is no
//!   number counts as 0 with an aggregation error. Over no values AVG is NaN and the
//!   others are their identity: 0, 0, +Inf (MIN), -Inf (MAX).
//! - `limit` caps the rows.

use crate::expr::{self, Expr, Report, is_atomic, number_cell, to_cell};
use orrery_api::{
    AggregatorType, Destination, ErrorInColumn, NamedStatusCombination, RowEvaluationError, StatusCollectorSpec,
    StatusCombinationRow, Value as Cell,
};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug)]
struct Aggregator {
    name: String,
    kind: AggregatorType,
    subject: Option<Expr>,
}

/// A StatusCollector that compiled.
#[derive(Debug)]
pub struct Collector {
    filter: Option<Expr>,
    select: Vec<(String, Expr)>,
    group_by: Vec<(String, Expr)>,
    combined: Vec<Aggregator>,
    limit: usize,
}

impl Collector {
    /// Compiles a spec, or says everything wrong with it (for the collector's status).
    pub fn compile(spec: &StatusCollectorSpec) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let mut parse = |what: String, src: &str| match Expr::parse(src) {
            Ok(e) => Some(e),
            Err(e) => {
                errors.push(format!("{what}: {e}"));
                None
            }
        };
        let filter = spec.filter.as_deref().and_then(|f| parse("filter".into(), f));
        let named = |list: &Option<Vec<orrery_api::NamedExpression>>,
                     field: &str,
                     parse: &mut dyn FnMut(String, &str) -> Option<Expr>| {
            list.iter()
                .flatten()
                .enumerate()
                .filter_map(|(i, n)| Some((n.name.clone(), parse(format!("{field}[{i}] ({})", n.name), &n.def)?)))
                .collect::<Vec<_>>()
        };
        let select = named(&spec.select, "select", &mut parse);
        let group_by = named(&spec.group_by, "groupBy", &mut parse);
        let mut combined = Vec::new();
        let mut shape = Vec::new();
        for (i, a) in spec.combined_fields.iter().flatten().enumerate() {
            let what = format!("combinedFields[{i}] ({})", a.name);
            let subject = match (a.type_, a.subject.as_deref()) {
                (AggregatorType::Count, None) => None,
                (AggregatorType::Count, Some(_)) => {
                    shape.push(format!("{what}: COUNT takes no subject"));
                    None
                }
                (_, None) => {
                    shape.push(format!("{what}: {} needs a subject", kind_name(a.type_)));
                    None
                }
                (_, Some(src)) => parse(format!("{what} subject"), src),
            };
            combined.push(Aggregator { name: a.name.clone(), kind: a.type_, subject });
        }
        let has = |l: &Option<Vec<_>>| l.as_ref().is_some_and(|l: &Vec<_>| !l.is_empty());
        let (has_select, has_combined) =
            (has(&spec.select), spec.combined_fields.as_ref().is_some_and(|c| !c.is_empty()));
        if has_select && has_combined {
            shape.push("select and combinedFields cannot both be given".into());
        }
        if !has_select && !has_combined {
            shape.push("one of select or combinedFields is required".into());
        }
        if has(&spec.group_by) && !has_combined {
            shape.push("groupBy needs combinedFields".into());
        }
        if spec.limit < 0 {
            shape.push(format!("limit {} is negative", spec.limit));
        }
        let names = spec
            .group_by
            .iter()
            .flatten()
            .chain(spec.select.iter().flatten())
            .map(|n| n.name.as_str())
            .chain(spec.combined_fields.iter().flatten().map(|a| a.name.as_str()));
        let mut seen = BTreeSet::new();
        for name in names {
            if name.is_empty() {
                shape.push("every column needs a name".into());
            } else if !seen.insert(name) {
                shape.push(format!("column name {name:?} is used twice"));
            }
        }
        errors.extend(shape);
        if !errors.is_empty() {
            return Err(errors);
        }
        let limit = usize::try_from(spec.limit).unwrap_or(0);
        Ok(Self { filter, select, group_by, combined, limit })
    }

    pub fn column_names(&self) -> Vec<String> {
        if self.combined.is_empty() {
            self.select.iter().map(|(n, _)| n.clone()).collect()
        } else {
            self.group_by.iter().map(|(n, _)| n.clone()).chain(self.combined.iter().map(|a| a.name.clone())).collect()
        }
    }

    /// The table for `reports` (one per edge cluster, in the order rows should have) about
    /// `obj` (the WDS object without status, from [`to_cel`](crate::expr::to_cel)).
    pub fn evaluate(&self, name: &str, obj: &cel::Value, reports: &[Report]) -> NamedStatusCombination {
        let root = expr::root(obj);
        let rows: Vec<RowOutcome> = reports.iter().map(|r| self.row(&root, r)).collect();
        self.table(name, reports.iter().map(|r| r.wec.as_str()).zip(&rows))
    }

    /// What one edge cluster's report contributes to the table: every expression evaluated
    /// over it in `root` (the scope with `obj`, from [`expr::root`]). A row depends only on
    /// the object and that report, so a caller may keep it while neither changes and
    /// build the table from kept rows ([`Collector::table`]).
    pub fn row(&self, root: &cel::Context<'_, 'static>, report: &Report) -> RowOutcome {
        let ctx = report.scope(root);
        let kept = match &self.filter {
            None => Ok(true),
            Some(f) => match f.eval(&ctx) {
                Ok(cel::Value::Bool(b)) => Ok(b),
                Ok(cel::Value::Null) => Ok(false),
                Ok(other) => Err(format!("the filter gave a {}, not a bool", other.type_of())),
                Err(e) => Err(e),
            },
        };
        let body = match kept {
            Ok(true) if self.combined.is_empty() => RowBody::Selected(
                self.select
                    .iter()
                    .map(|(column, e)| e.eval(&ctx).and_then(|v| to_cell(&v)).map_err(|err| (column.clone(), err)))
                    .collect(),
            ),
            Ok(true) => RowBody::Grouped { key: self.group_key(&ctx), subjects: self.subjects(&ctx) },
            Ok(false) => RowBody::Dropped(None),
            Err(e) => RowBody::Dropped(Some(e)),
        };
        RowOutcome(body)
    }

    fn group_key(&self, ctx: &cel::Context<'_, 'static>) -> Result<Vec<Cell>, (String, String)> {
        self.group_by
            .iter()
            .map(|(column, e)| match e.eval(ctx) {
                Ok(v) if is_atomic(&v) => to_cell(&v).map_err(|err| (column.clone(), err)),
                Ok(v) => Err((column.clone(), format!("a {} cannot be a groupBy key", v.type_of()))),
                Err(err) => Err((column.clone(), err)),
            })
            .collect()
    }

    fn subjects(&self, ctx: &cel::Context<'_, 'static>) -> Vec<Subject> {
        self.combined
            .iter()
            .map(|a| match &a.subject {
                None => Subject::None,
                Some(e) => match e.eval(ctx) {
                    Ok(v) => match number(&v) {
                        Ok(n) => Subject::Number(n),
                        Err(why) => Subject::NotANumber(why),
                    },
                    Err(err) => Subject::Failed(err),
                },
            })
            .collect()
    }

    /// The table from each edge cluster's row (by SyncTarget name, in the order rows
    /// should have), with the errors in that order: the filter's first, then the rest.
    pub fn table<'r>(
        &self,
        name: &str,
        rows: impl IntoIterator<Item = (&'r str, &'r RowOutcome)> + Clone,
    ) -> NamedStatusCombination {
        let mut row_errors: Vec<RowEvaluationError> = Vec::new();
        let mut row_error = |wec: &str, column: &str, error: &str| {
            row_errors.push(RowEvaluationError {
                wec: Destination { cluster_id: wec.to_owned() },
                column_name: column.to_owned(),
                error: error.to_owned(),
            });
        };
        for (wec, row) in rows.clone() {
            if let RowBody::Dropped(Some(e)) = &row.0 {
                row_error(wec, "", e);
            }
        }
        let (rows, aggregation_errors) = if self.combined.is_empty() {
            (select_rows(rows, &mut row_error), Vec::new())
        } else {
            self.aggregate(rows, &mut row_error)
        };
        let rows: Vec<StatusCombinationRow> = rows.into_iter().take(self.limit).collect();
        NamedStatusCombination {
            name: name.to_owned(),
            column_names: self.column_names(),
            rows: (!rows.is_empty()).then_some(rows),
            row_errors: (!row_errors.is_empty()).then_some(row_errors),
            aggregation_errors: (!aggregation_errors.is_empty()).then_some(aggregation_errors),
        }
    }

    fn aggregate<'r>(
        &self,
        rows: impl IntoIterator<Item = (&'r str, &'r RowOutcome)>,
        row_error: &mut impl FnMut(&str, &str, &str),
    ) -> (Vec<StatusCombinationRow>, Vec<ErrorInColumn>) {
        // Groups by the JSON text of their key, which orders them and compares them.
        let mut groups: BTreeMap<String, (Vec<Cell>, Vec<Accumulator>)> = BTreeMap::new();
        if self.group_by.is_empty() {
            // One row over everything, even over no rows (the identities).
            let key = serde_json::to_string(&Vec::<Cell>::new()).unwrap_or_default();
            groups.insert(key, (Vec::new(), self.combined.iter().map(|_| Accumulator::default()).collect()));
        }
        let mut errors: Vec<ErrorInColumn> = Vec::new();
        for (wec, row) in rows {
            let RowBody::Grouped { key, subjects } = &row.0 else { continue };
            let key = match key {
                Ok(key) => key,
                Err((column, err)) => {
                    row_error(wec, column, err);
                    continue;
                }
            };
            let text = serde_json::to_string(key).unwrap_or_default();
            let (_, accs) = groups
                .entry(text)
                .or_insert_with(|| (key.clone(), self.combined.iter().map(|_| Accumulator::default()).collect()));
            for ((a, acc), subject) in self.combined.iter().zip(accs.iter_mut()).zip(subjects) {
                acc.rows += 1;
                match subject {
                    Subject::None => {}
                    Subject::Number(n) => acc.values.push(*n),
                    Subject::NotANumber(why) => {
                        acc.values.push(0.0);
                        errors.push(ErrorInColumn {
                            column_name: a.name.clone(),
                            error: format!("{wec}: {why}; counted as 0"),
                        });
                    }
                    Subject::Failed(err) => row_error(wec, &a.name, err),
                }
            }
        }
        let rows = groups
            .into_values()
            .map(|(key, accs)| {
                let mut columns = key;
                columns.extend(self.combined.iter().zip(&accs).map(|(a, acc)| number_cell(acc.result(a.kind))));
                StatusCombinationRow { columns }
            })
            .collect();
        (rows, errors)
    }
}

fn select_rows<'r>(
    rows: impl IntoIterator<Item = (&'r str, &'r RowOutcome)>,
    row_error: &mut impl FnMut(&str, &str, &str),
) -> Vec<StatusCombinationRow> {
    let mut out = Vec::new();
    for (wec, row) in rows {
        let RowBody::Selected(cells) = &row.0 else { continue };
        let mut columns = Vec::with_capacity(cells.len());
        for cell in cells {
            match cell {
                Ok(c) => columns.push(c.clone()),
                Err((column, err)) => row_error(wec, column, err),
            }
        }
        if columns.len() == cells.len() {
            out.push(StatusCombinationRow { columns });
        }
    }
    out
}

/// One edge cluster's contribution to a collector's table ([`Collector::row`]).
#[derive(Clone, Debug, PartialEq)]
pub struct RowOutcome(RowBody);

#[derive(Clone, Debug, PartialEq)]
enum RowBody {
    /// The filter dropped the row, with its error if it failed.
    Dropped(Option<String>),
    /// `select`: each column's cell, or (column, error).
    Selected(Vec<Result<Cell, (String, String)>>),
    /// `combinedFields`: the group key (or the column that failed and why) and each
    /// aggregator's subject.
    Grouped { key: Result<Vec<Cell>, (String, String)>, subjects: Vec<Subject> },
}

/// One aggregator's subject over one row.
#[derive(Clone, Debug, PartialEq)]
enum Subject {
    /// COUNT: no subject.
    None,
    Number(f64),
    /// A value that is no number: counts as 0, with an aggregation error.
    NotANumber(String),
    /// The expression failed: a row error.
    Failed(String),
}

/// One group's values of one aggregated column.
#[derive(Default)]
struct Accumulator {
    rows: usize,
    values: Vec<f64>,
}

impl Accumulator {
    fn result(&self, kind: AggregatorType) -> f64 {
        aggregate(kind, self.rows, &self.values)
    }
}

/// The aggregate of `values` (and, for COUNT, of `rows`).
pub fn aggregate(kind: AggregatorType, rows: usize, values: &[f64]) -> f64 {
    match kind {
        AggregatorType::Count => rows as f64,
        // Folded from +0: `Iterator::sum` of no f64s is -0, which would print as "-0".
        AggregatorType::Sum => values.iter().fold(0.0, |a, b| a + b),
        AggregatorType::Avg if values.is_empty() => f64::NAN,
        AggregatorType::Avg => values.iter().fold(0.0, |a, b| a + b) / values.len() as f64,
        AggregatorType::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        AggregatorType::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}

fn kind_name(kind: AggregatorType) -> &'static str {
    match kind {
        AggregatorType::Count => "COUNT",
        AggregatorType::Sum => "SUM",
        AggregatorType::Avg => "AVG",
        AggregatorType::Min => "MIN",
        AggregatorType::Max => "MAX",
    }
}

/// A subject as a number: numbers as they are, strings parsed.
pub fn number(v: &cel::Value) -> Result<f64, String> {
    match v {
        cel::Value::Int(i) => Ok(*i as f64),
        cel::Value::UInt(u) => Ok(*u as f64),
        cel::Value::Float(f) => Ok(*f),
        cel::Value::String(s) => s.trim().parse::<f64>().map_err(|_| format!("{s:?} is not a number")),
        other => Err(format!("a {} is not a number", other.type_of())),
    }
}

/// Renders a table's numbers for messages and tests.
pub fn describe(c: &Cell) -> String {
    c.number
        .clone()
        .or_else(|| c.string.clone())
        .or_else(|| c.bool.map(|b| b.to_string()))
        .unwrap_or_else(|| c.object.as_ref().or(c.array.as_ref()).map_or_else(|| "null".to_owned(), |v| v.to_string()))
}

#[cfg(test)]
#[path = "collector_tests.rs"]
mod tests;
