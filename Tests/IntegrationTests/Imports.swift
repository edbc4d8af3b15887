// Every file of the integration tests sees the shared helpers of
// Tests/TestSupport (runDinit, RunningProcess, /proc, the signal recorder)
// without importing them itself.
@_exported import TestSupport
