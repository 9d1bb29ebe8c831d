// vpcmirror: finds the capture files in Tests/Fixtures by path, from this source file's location.
public import Foundation

/// The fixture captures in `Tests/Fixtures`. They are found from `#filePath`, walking up from this
/// source file to the directory that holds `Package.swift`, so no resource bundle is needed.
public enum Fixtures {
    /// File name extensions that mark a capture file.
    public static let captureExtensions: Set<String> = ["pcap", "pcapng", "cap"]

    /// `<package root>/Tests/Fixtures`.
    public static let directory: URL = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        // Bounded: a checkout is never 64 levels deep.
        for _ in 0..<64 {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory.appendingPathComponent("Tests").appendingPathComponent("Fixtures")
            }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { break }
            directory = parent
        }
        fatalError("no Package.swift above \(#filePath)")
    }()

    /// The URL of `Tests/Fixtures/<name>`; the file need not exist.
    public static func url(_ name: String) -> URL {
        self.directory.appendingPathComponent(name)
    }

    /// The path of `Tests/Fixtures/<name>`; the file need not exist.
    public static func path(_ name: String) -> String {
        self.url(name).path
    }

    /// The names of every capture file in the fixtures directory, sorted.
    public static var all: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: self.directory.path)) ?? []
        return names.filter { name in
            Self.captureExtensions.contains(URL(fileURLWithPath: name).pathExtension.lowercased())
        }.sorted()
    }
}
