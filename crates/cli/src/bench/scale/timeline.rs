//! When each WEC reached each stage of the pipeline: the bench's bookkeeping, kept pure so
//! that what counts as "reached" is tested with tables.
//!
//! A WEC reaches a per-object stage when the last of the workload's objects does; it
//! reaches the slice when a SinglePlacementSlice first lists it. Only the first time counts:
//! a copy rewritten later does not move its stage.

/// The stages of a workload on its way to one WEC and back, in pipeline order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The scheduler listed the WEC in a SinglePlacementSlice.
    Slice,
    /// The translator wrote every object's copy into the WEC's mailbox.
    Copies,
    /// The syncer applied every object in the WEC.
    Applied,
    /// Every object's WEC status (ready) reached its mailbox copy.
    Status,
    /// The WDS's CombinedStatus of every object lists the WEC as ready.
    Summary,
}

impl Stage {
    pub const ALL: [Stage; 5] = [Stage::Slice, Stage::Copies, Stage::Applied, Stage::Status, Stage::Summary];

    pub fn label(self) -> &'static str {
        match self {
            Stage::Slice => "slice",
            Stage::Copies => "mailbox copies",
            Stage::Applied => "applied in WEC",
            Stage::Status => "status in mailbox",
            Stage::Summary => "summary in WDS",
        }
    }

    /// The stage's key in the JSON report.
    pub fn key(self) -> &'static str {
        match self {
            Stage::Slice => "slice_ms",
            Stage::Copies => "copies_ms",
            Stage::Applied => "applied_ms",
            Stage::Status => "status_ms",
            Stage::Summary => "summary_ms",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Per (WEC, stage, object): the first time, in seconds since the workload was written.
#[derive(Debug)]
pub struct Timeline {
    wecs: usize,
    objects: usize,
    /// `[(wec * STAGES + stage) * objects + object]`.
    at: Vec<Option<f32>>,
    /// Objects that reached each (WEC, stage).
    reached: Vec<u32>,
    /// When each (WEC, stage) was complete.
    complete: Vec<Option<f32>>,
    completed: [usize; Stage::ALL.len()],
}

const STAGES: usize = Stage::ALL.len();

impl Timeline {
    pub fn new(wecs: usize, objects: usize) -> Self {
        let objects = objects.max(1);
        Self {
            wecs,
            objects,
            at: vec![None; wecs * STAGES * objects],
            reached: vec![0; wecs * STAGES],
            complete: vec![None; wecs * STAGES],
            completed: [0; STAGES],
        }
    }

    /// How many objects make a stage complete: the slice lists WECs, not objects.
    fn needed(&self, stage: Stage) -> u32 {
        if stage == Stage::Slice { 1 } else { self.objects as u32 }
    }

    /// Records that `object` (ignored for the slice) reached `stage` in `wec` at `t`
    /// seconds. Returns whether this completed the WEC's stage. Out-of-range indices and
    /// repeats change nothing.
    pub fn record(&mut self, stage: Stage, wec: usize, object: usize, t: f64) -> bool {
        let object = if stage == Stage::Slice { 0 } else { object };
        if wec >= self.wecs || object >= self.objects {
            return false;
        }
        let cell = wec * STAGES + stage.index();
        let slot = &mut self.at[cell * self.objects + object];
        if slot.is_some() {
            return false;
        }
        *slot = Some(t as f32);
        self.reached[cell] += 1;
        if self.reached[cell] < self.needed(stage) {
            return false;
        }
        let last = (0..self.objects).filter_map(|o| self.at[cell * self.objects + o]).fold(0f32, f32::max);
        self.complete[cell] = Some(last);
        self.completed[stage.index()] += 1;
        true
    }

    /// When `wec` completed `stage`.
    pub fn complete(&self, stage: Stage, wec: usize) -> Option<f64> {
        self.complete.get(wec * STAGES + stage.index()).copied().flatten().map(f64::from)
    }

    /// How many WECs completed `stage`.
    pub fn completed(&self, stage: Stage) -> usize {
        self.completed[stage.index()]
    }

    /// The completion times of `stage` of the WECs that completed it, sorted.
    pub fn per_wec(&self, stage: Stage) -> Vec<f64> {
        let mut v: Vec<f64> = (0..self.wecs).filter_map(|w| self.complete(stage, w)).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The WECs that have not completed `stage`, by index.
    pub fn missing(&self, stage: Stage) -> Vec<usize> {
        (0..self.wecs).filter(|&w| self.complete(stage, w).is_none()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_completes_with_its_last_object_and_first_times_count() {
        let mut t = Timeline::new(2, 3);
        // (stage, wec, object, t, completes?)
        let steps: &[(Stage, usize, usize, f64, bool)] = &[
            (Stage::Copies, 0, 0, 0.5, false),
            (Stage::Copies, 0, 2, 0.9, false),
            (Stage::Copies, 0, 2, 0.1, false), // a repeat: the first time stays
            (Stage::Copies, 0, 1, 0.7, true),  // the last object; the stage's time is the latest
            (Stage::Copies, 0, 1, 2.0, false), // after completion nothing moves
            (Stage::Slice, 1, 2, 0.2, true),   // the slice needs no objects
            (Stage::Slice, 1, 0, 0.3, false),
            (Stage::Summary, 5, 0, 1.0, false), // no such WEC
            (Stage::Summary, 0, 3, 1.0, false), // no such object
        ];
        for &(stage, wec, object, at, completes) in steps {
            assert_eq!(t.record(stage, wec, object, at), completes, "{stage:?} wec {wec} object {object} at {at}");
        }
        assert_eq!(t.complete(Stage::Copies, 0), Some(f64::from(0.9f32)));
        assert_eq!(t.complete(Stage::Copies, 1), None);
        assert_eq!(t.complete(Stage::Slice, 1), Some(f64::from(0.2f32)));
        assert_eq!(t.completed(Stage::Copies), 1);
        assert_eq!(t.completed(Stage::Summary), 0);
        assert_eq!(t.missing(Stage::Copies), vec![1]);
        assert_eq!(t.missing(Stage::Summary), vec![0, 1]);
    }

    #[test]
    fn per_wec_times_are_sorted_and_leave_out_the_incomplete() {
        let mut t = Timeline::new(3, 1);
        t.record(Stage::Applied, 2, 0, 0.25);
        t.record(Stage::Applied, 0, 0, 1.5);
        assert_eq!(t.per_wec(Stage::Applied), vec![0.25, 1.5]);
        assert!(t.per_wec(Stage::Status).is_empty());
    }
}
