namespace OrleansCrates.Storage;

/// <summary>Configuration section <c>Storage</c>.</summary>
public sealed class StorageOptions
{
    public const string SectionName = "Storage";

    /// <summary><c>FileSystem</c> (the embedded default) or <c>AzureBlob</c>.</summary>
    public string Provider { get; set; } = "FileSystem";

    public FileSystemStorageOptions FileSystem { get; set; } = new();
}

/// <summary>Configuration section <c>Storage:FileSystem</c>.</summary>
public sealed class FileSystemStorageOptions
{
    /// <summary>Root folder; relative paths are resolved against the working directory. Default <c>./data</c>.</summary>
    public string Root { get; set; } = "data";
}
