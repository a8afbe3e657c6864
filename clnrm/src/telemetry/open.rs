//! clnrm's own spans still open (run, suite, test, attempt), so that an interrupted run ends and
//! exports them (status error, `clnrm.outcome = interrupted`) instead of losing them: the
//! interrupt path exits the process while they are open, and an OpenTelemetry span is exported
//! only when it ends.
//!
//! Only span ids are kept (a span closes when its handles drop, as always); the tree's
//! `finish_*` functions forget them. The test and attempt spans end when the signal arrives
//! (the harness then drops the futures that hold them, which would end them with no outcome);
//! the run and suite spans, which the front ends finish as aborted, when the process exits.

use std::sync::Mutex;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Status, TraceContextExt as _};

/// Open spans and whether each is a test's or an attempt's (`true`) or a run's or suite's.
static OPEN: Mutex<Vec<(tracing::span::Id, bool)>> = Mutex::new(Vec::new());

fn lock() -> std::sync::MutexGuard<'static, Vec<(tracing::span::Id, bool)>> {
    OPEN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `span` (a test's or attempt's when `inner`) is open until [`closed`].
pub(crate) fn opened(span: &tracing::Span, inner: bool) {
    if let Some(id) = span.id() {
        lock().push((id, inner));
    }
}

/// `span` was finished.
pub(crate) fn closed(span: &tracing::Span) {
    if let Some(id) = span.id() {
        lock().retain(|(open, _)| *open != id);
    }
}

/// Ends the spans still open (only tests' and attempts' when `inner_only`), innermost first, as
/// interrupted; how many. Called by the interrupt path: at the signal, and before the final
/// flush. Nothing happens without an OpenTelemetry layer.
pub fn end_interrupted(inner_only: bool) -> usize {
    let ids: Vec<tracing::span::Id> = {
        let mut open = lock();
        let (ending, keep): (Vec<_>, Vec<_>) =
            open.drain(..).partition(|(_, inner)| *inner || !inner_only);
        *open = keep;
        ending.into_iter().map(|(id, _)| id).collect()
    };
    let mut ended = 0;
    tracing::dispatcher::get_default(|dispatch| {
        // A span closed without its `finish_*` (a task aborted) left its id behind: only ids
        // the registry still has are looked up (the layer panics on others).
        let Some(registry) = dispatch.downcast_ref::<tracing_subscriber::Registry>() else {
            return;
        };
        for id in ids.iter().rev() {
            if tracing_subscriber::registry::LookupSpan::span_data(registry, id).is_none() {
                continue;
            }
            let Some(cx) = tracing_opentelemetry::get_otel_context(id, dispatch) else {
                continue;
            };
            let span = cx.span();
            if span.is_recording() {
                span.set_attribute(KeyValue::new("clnrm.outcome", "interrupted"));
                span.set_status(Status::error("interrupted"));
                span.end();
                ended += 1;
            }
        }
    });
    ended
}
