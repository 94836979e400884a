using Microsoft.Extensions.Logging;

namespace OrleansCrates.Accounts;

public sealed partial class TokenStore
{
    private static partial class Log
    {
        [LoggerMessage(EventId = LogEvents.TokenStoreTokenCreated, Level = LogLevel.Information, Message = "Created token {TokenId} for {User} with scope {Scope}")]
        public static partial void TokenCreated(ILogger logger, string tokenId, string user, string scope);

        [LoggerMessage(EventId = LogEvents.TokenStoreTokenRevoked, Level = LogLevel.Information, Message = "Revoked token {TokenId} of {User}")]
        public static partial void TokenRevoked(ILogger logger, string tokenId, string user);

        [LoggerMessage(EventId = LogEvents.TokenStoreCorruptRecord, Level = LogLevel.Warning, Message = "Ignoring unreadable account record {Key}")]
        public static partial void CorruptRecord(ILogger logger, string key);
    }
}
