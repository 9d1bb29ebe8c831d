// swift-tools-version: 6.1
// vpcmirror benchmarks: a package of their own, so package-benchmark never enters the main build.
import PackageDescription

let package = Package(
    name: "vpcmirror-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "vpcmirror", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "MirrorBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "VPCMirrorKit", package: "vpcmirror"),
            ],
            path: "Benchmarks/MirrorBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
