// vpcmirror: reads a sessions file from disk and validates it.
public import MirrorConfig
public import MirrorFilter
import FoundationEssentials

public enum ConfigLoader {
    /// Reads and validates `path`. A file that cannot be read is reported as a one-problem `ConfigError`.
    public static func load(path: String, options: ValidationOptions = .init()) throws(ConfigError) -> MirrorConfiguration {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read (permissions?)" : "no such file"
            throw ConfigError(problems: [ConfigProblem(fileName: path, path: "", value: nil, message: reason)])
        }
        return try SessionsFile.parse(Array(data), fileName: name, options: options)
    }
}
