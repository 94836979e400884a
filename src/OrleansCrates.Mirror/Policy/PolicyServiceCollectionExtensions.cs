using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansCrates.Mirror;

namespace OrleansCrates.Mirror.Policy;

public static class PolicyServiceCollectionExtensions
{
    /// <summary>
    /// The mirror's curation: <see cref="MirrorPolicy"/>, the shared <see cref="ApprovalStore"/>, and start-up
    /// validation of <c>Mirror:Policy</c> (an invalid entry stops the node with a message naming its key).
    /// </summary>
    public static IServiceCollection AddMirrorPolicy(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<MirrorOptions>, PolicyOptionsValidation>();
        services.AddSingleton<ApprovalStore>();
        services.AddSingleton<MirrorPolicy>();
        return services;
    }
}

internal sealed class PolicyOptionsValidation : IValidateOptions<MirrorOptions>
{
    public ValidateOptionsResult Validate(string? name, MirrorOptions options)
    {
        var problems = CratePolicy.Problems(options.Policy);
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
