import Foundation
import Synchronization

/// Starts child processes one at a time. Foundation's `Process.run()` on Linux
/// is not safe to call from several threads at once: the parallel tests that
/// each start a program (orderctl, a daemon) crashed the test process inside
/// it (a segfault in its memcpy), so every test start goes through this lock.
public enum ProcessSpawning {
    private static let lock = Mutex(())

    public static func run(_ process: Process) throws {
        try lock.withLock { _ in try process.run() }
    }
}
