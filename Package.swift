// swift-tools-version: 6.1
// vpcmirror: packet-level traffic mirroring with AWS VPC Traffic Mirroring semantics.
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("InternalImportsByDefault")]

let package = Package(
    name: "vpcmirror",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vpcmirror", targets: ["vpcmirror"]),
        // The pure modules, for the benchmarks package and for embedding.
        .library(name: "VPCMirrorKit", targets: ["MirrorWire", "MirrorFilter", "MirrorConfig", "MirrorVXLAN"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
    ],
    targets: [
        // MARK: - C: the only code that names libpcap, libnl and the socket calls Swift cannot import.
        .systemLibrary(
            name: "CPcap",
            path: "Sources/CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        .systemLibrary(
            name: "CNetlink",
            path: "Sources/CNetlink",
            pkgConfig: "libnl-route-3.0",
            providers: [.apt(["libnl-3-dev", "libnl-route-3-dev"])]
        ),
        .target(name: "CMirrorSocket", path: "Sources/CMirrorSocket"),
        .systemLibrary(
            name: "CIsal",
            path: "Sources/CIsal",
            pkgConfig: "libisal",
            providers: [.apt(["libisal-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),

        // MARK: - Pure modules: no I/O.
        .target(name: "MirrorWire", path: "Sources/MirrorWire", swiftSettings: strict),
        .target(name: "MirrorFilter", dependencies: ["MirrorWire"], path: "Sources/MirrorFilter", swiftSettings: strict),
        .target(name: "MirrorConfig", dependencies: ["MirrorWire", "MirrorFilter"], path: "Sources/MirrorConfig", swiftSettings: strict),
        .target(name: "MirrorVXLAN", dependencies: ["MirrorWire"], path: "Sources/MirrorVXLAN", swiftSettings: strict),
        .target(name: "MirrorJSON", path: "Sources/MirrorJSON", swiftSettings: strict),
        .target(
            name: "MirrorCollector",
            dependencies: ["MirrorWire", "MirrorFilter", "MirrorVXLAN", "MirrorReassembly", "MirrorHTTP1", "MirrorJSON"],
            path: "Sources/MirrorCollector",
            swiftSettings: strict
        ),
        .target(name: "MirrorReassembly", dependencies: ["MirrorWire"], path: "Sources/MirrorReassembly", swiftSettings: strict),
        .target(name: "MirrorHTTP1", dependencies: ["CIsal"], path: "Sources/MirrorHTTP1", swiftSettings: strict),

        // MARK: - I/O modules.
        .target(name: "MirrorCapture", dependencies: ["CPcap", "MirrorWire"], path: "Sources/MirrorCapture", swiftSettings: strict),
        .target(name: "MirrorSender", dependencies: ["CMirrorSocket", "MirrorWire", "MirrorThreads"], path: "Sources/MirrorSender", swiftSettings: strict),
        .target(name: "MirrorReceiver", dependencies: ["CMirrorSocket", "MirrorWire"], path: "Sources/MirrorReceiver", swiftSettings: strict),
        .target(name: "MirrorLink", dependencies: ["CNetlink", "MirrorWire"], path: "Sources/MirrorLink", swiftSettings: strict),
        .target(name: "MirrorThreads", path: "Sources/MirrorThreads", swiftSettings: strict),

        // MARK: - Glue and the executable.
        .target(
            name: "MirrorAgent",
            dependencies: [
                "MirrorWire", "MirrorFilter", "MirrorConfig", "MirrorVXLAN", "MirrorCapture", "MirrorSender",
                "MirrorReceiver", "MirrorCollector", "MirrorJSON", "MirrorLink", "MirrorThreads",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/MirrorAgent",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "vpcmirror",
            dependencies: [
                "MirrorAgent", "MirrorConfig", "MirrorCapture",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/vpcmirror",
            swiftSettings: strict
        ),

        // MARK: - Tests. Fixtures live in Tests/Fixtures and are found by path.
        .target(name: "MirrorTestSupport", dependencies: ["MirrorWire"], path: "Sources/MirrorTestSupport", swiftSettings: strict),
        .testTarget(name: "MirrorWireTests", dependencies: ["MirrorWire", "MirrorTestSupport"], path: "Tests/MirrorWireTests"),
        .testTarget(name: "MirrorFilterTests", dependencies: ["MirrorFilter", "MirrorConfig", "MirrorTestSupport"], path: "Tests/MirrorFilterTests"),
        .testTarget(name: "MirrorConfigTests", dependencies: ["MirrorConfig", "MirrorTestSupport"], path: "Tests/MirrorConfigTests"),
        .testTarget(name: "MirrorVXLANTests", dependencies: ["MirrorVXLAN", "MirrorTestSupport"], path: "Tests/MirrorVXLANTests"),
        .testTarget(name: "MirrorCaptureTests", dependencies: ["MirrorCapture", "MirrorFilter", "MirrorTestSupport"], path: "Tests/MirrorCaptureTests"),
        .testTarget(name: "MirrorReassemblyTests", dependencies: ["MirrorReassembly", "MirrorTestSupport"], path: "Tests/MirrorReassemblyTests"),
        .testTarget(
            name: "MirrorCollectorTests", dependencies: ["MirrorCollector", "MirrorTestSupport"], path: "Tests/MirrorCollectorTests"),
        .testTarget(name: "MirrorHTTP1Tests", dependencies: ["MirrorHTTP1", "MirrorTestSupport", "CZlib"], path: "Tests/MirrorHTTP1Tests"),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["MirrorAgent", "MirrorConfig", "MirrorFilter", "MirrorTestSupport"],
            path: "Tests/EndToEndTests"
        ),
    ]
)
