using OrleansCrates.Protocol;

namespace OrleansCrates.Registry;

/// <summary>
/// A publish body read and checked (<see cref="PrivateRegistry.PreparePublishAsync"/>) but not stored: the crate's
/// name and version, for the caller to decide whether this caller may publish it, or the <see cref="Error"/> that
/// refused it. Dispose it to delete its spooled file.
/// </summary>
public sealed class PreparedPublish : IAsyncDisposable
{
    internal PreparedPublish(ValidatedCrate crate, PublishUpload upload)
    {
        Crate = crate;
        Upload = upload;
    }

    private PreparedPublish(RegistryError error)
    {
        Error = error;
    }

    public RegistryError? Error { get; }

    /// <summary>The crate's name as the body spells it (only without an <see cref="Error"/>).</summary>
    public CrateName Name => Crate!.Name;

    public string Version => Crate!.Version;

    internal ValidatedCrate? Crate { get; }

    internal PublishUpload? Upload { get; }

    internal static PreparedPublish Refused(RegistryError error) => new(error);

    public ValueTask DisposeAsync() => Upload?.DisposeAsync() ?? ValueTask.CompletedTask;
}
