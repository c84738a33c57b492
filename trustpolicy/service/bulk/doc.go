// Package bulk verifies whole releases in one process: many artifact
// references, each through package service's one verification flow, with
// one engine, one registry client (its connections and tokens shared) and
// one revocation cache. It is the library under `trustpolicy verify
// REF...`, `--from FILE` and `--all-tags`; the command only reads flags
// and prints.
//
//   - [ReadList] reads references one per line (blank lines and # comments
//     skipped), checking each, so that a bad line is reported with its
//     file and line number before anything is verified.
//   - [Run] is the worker pool: at most Options.Jobs artifacts at once, and
//     at most Options.PerHost against one registry host; results come back
//     in input order, through a window of bounded size, so memory stays
//     flat however many references there are. A reference given twice is
//     verified once.
//   - [Verifier] turns one reference into a [Record] with a
//     service.Service: resolve, verify, and for an image index with
//     Verifier.Platforms set, each platform manifest the index lists (a
//     platform is covered when its own manifest or the index carries a
//     verified signature; [Platform.CoveredBy] says which).
//   - [Summary] counts verdicts and gives the exit code: 0 when every
//     artifact verified or was skipped by policy, 1 when any failed (or was
//     not run), 3 when none failed but some were inconclusive.
//   - [JUnit] writes the records as a JUnit XML report, one testcase per
//     artifact and per platform manifest, for CI dashboards.
//
// Records and the summary are data with a versioned JSON schema
// ([RecordSchema], [SummarySchema]): the command prints them as JSON
// Lines. The package never prints; progress is a callback.
package bulk
