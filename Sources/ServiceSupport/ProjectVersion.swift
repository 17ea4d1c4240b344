/// The version every executable prints for `--version`, kept with the
/// OpenAPI document's `info.version` (a test compares the two).
public enum ProjectVersion {
    public static let text = "1.0.0"
}
