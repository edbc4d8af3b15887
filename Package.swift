// swift-tools-version:6.1
import PackageDescription

// Layers, each importing only the one below it:
//   CLinuxSys (C shim) -> LinuxSys (thin syscall wrappers) -> Reactor -> dinit, dcrond
// SupervisorCore is pure Swift (no syscalls, no clock reads) and is what the
// reactor drives; it is unit-tested with scripted events.
//
// This manifest is the development and unit-test build (glibc, standard Swift).
// The shipped binaries are Embedded Swift linked statically against musl: see
// the Makefile.
let package = Package(
    name: "dinit",
    products: [
        .executable(name: "dinit", targets: ["dinit"]),
        .executable(name: "dcrond", targets: ["dcrond"]),
    ],
    traits: [
        // Off by default: the default build needs nothing beyond the toolchain.
        .trait(name: "Journald", description: "dinit -j / dcrond -j: log to systemd-journald through libsystemd (dynamic build; needs libsystemd-dev)"),
    ],
    targets: [
        .systemLibrary(name: "CLinuxSys"),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(name: "LinuxSys", dependencies: [
            "CLinuxSys",
            .target(name: "CSystemd", condition: .when(traits: ["Journald"])),
        ]),
        .target(name: "SupervisorCore"),
        .target(name: "Reactor", dependencies: ["LinuxSys", "SupervisorCore"]),
        .executableTarget(name: "dinit", dependencies: ["Reactor"]),
        .executableTarget(name: "dcrond", dependencies: ["Reactor"]),
        // Test-only: a malloc replacement that counts allocations per thread.
        .target(name: "CMallocCounter"),
        .testTarget(name: "SupervisorCoreTests", dependencies: ["SupervisorCore"]),
        .testTarget(name: "AllocationTests", dependencies: ["Reactor", "CMallocCounter"]),
        // Test-only: the process helpers every integration test uses (running
        // a binary with its output captured, /proc, the signal recorder).
        // Foundation and XCTest only; nothing of the project.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "IntegrationTests", dependencies: ["dinit", "dcrond", "TestSupport"]),
    ]
)
