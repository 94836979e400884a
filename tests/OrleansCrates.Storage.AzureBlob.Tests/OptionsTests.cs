using Azure.Core;
using Azure.Core.Pipeline;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace OrleansCrates.Storage.AzureBlob.Tests;

/// <summary>Configuration, connection strings and how the SDK clients are built; no Azurite needed.</summary>
public sealed class OptionsTests
{
    // Azurite's well-known development key (public, in every Azure Storage emulator's documentation).
    private const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    [Theory]
    [InlineData("UseDevelopmentStorage=true", "http://127.0.0.1:10000/devstoreaccount1/c12")]
    [InlineData("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + Key + ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;", "http://127.0.0.1:10000/devstoreaccount1/c12")]
    [InlineData("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + Key + ";EndpointSuffix=core.windows.net", "https://acct.blob.core.windows.net/c12")]
    [InlineData("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + Key + ";EndpointSuffix=core.chinacloudapi.cn", "https://acct.blob.core.chinacloudapi.cn/c12")]
    public void Connection_strings_name_the_container_endpoint(string connectionString, string containerUri)
    {
        var clients = AzureBlobClients.Create(new AzureBlobStorageOptions { ConnectionString = connectionString, Container = "c12" });
        Assert.Equal(new Uri(containerUri), clients.ContainerUri);
        Assert.Equal(new Uri(containerUri), clients.HealthProbe.Uri);
    }

    [Theory]
    [InlineData("AccountName=acct;AccountKey")]
    [InlineData("not a connection string")]
    [InlineData("AccountName=acct;AccountKey=" + Key + ";BlobEndpoint=not a uri")]
    public void Bad_connection_strings_fail_validation_without_echoing_the_key(string connectionString)
    {
        var result = new AzureBlobStorageOptionsValidator().Validate(null, new AzureBlobStorageOptions { ConnectionString = connectionString });
        Assert.True(result.Failed);
        var failure = Assert.Single(result.Failures!);
        Assert.Contains("ConnectionString is invalid", failure, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Transfer_options_follow_block_size_and_upload_concurrency()
    {
        var clients = AzureBlobClients.Create(new AzureBlobStorageOptions { ConnectionString = "UseDevelopmentStorage=true", BlockSize = 65536, UploadConcurrency = 3 });
        Assert.Equal(65536, clients.Transfer.InitialTransferSize);
        Assert.Equal(65536, clients.Transfer.MaximumTransferSize);
        Assert.Equal(3, clients.Transfer.MaximumConcurrency);

        var validator = new AzureBlobStorageOptionsValidator();
        Assert.True(validator.Validate(null, new AzureBlobStorageOptions { ConnectionString = "UseDevelopmentStorage=true", UploadConcurrency = 0 }).Failed);
        Assert.True(validator.Validate(null, new AzureBlobStorageOptions { ConnectionString = "UseDevelopmentStorage=true", UploadConcurrency = 17 }).Failed);
    }

    [Fact]
    public async Task Entra_id_requests_carry_the_credential_bearer_token_over_https()
    {
        // No Entra ID here: a TokenCredential hands out a fixed token and the transport answers like a service
        // without the container, recording what was sent. This checks how the client is built, not Azure.
        var transport = new RecordingTransport();
        var credential = new FixedTokenCredential("token-123");
        var store = new AzureBlobObjectStore(
            AzureBlobClients.Create(new AzureBlobStorageOptions { ServiceUri = new Uri("https://acct.blob.core.windows.net/"), Container = "mirror" }, credential, new HttpClientTransport(transport)));

        var health = await store.CheckHealthAsync(CancellationToken.None);

        Assert.False(health.Healthy);
        Assert.Contains("404 ContainerNotFound", health.Detail, StringComparison.Ordinal);
        var request = Assert.Single(transport.Requests);
        Assert.Equal("https://acct.blob.core.windows.net/mirror?restype=container", request.Uri);
        Assert.Equal("Bearer token-123", request.Authorization);
        Assert.Equal(["https://storage.azure.com/.default"], credential.Scopes.Distinct());
    }

    [Fact]
    public void Entra_id_without_a_credential_builds_default_azure_credential()
    {
        var clients = AzureBlobClients.Create(new AzureBlobStorageOptions { ServiceUri = new Uri("https://acct.blob.core.windows.net"), ManagedIdentityClientId = "00000000-0000-0000-0000-000000000001" });
        Assert.Equal(new Uri("https://acct.blob.core.windows.net/orleanscrates"), clients.ContainerUri);
        Assert.Equal("acct", clients.Container.AccountName);
        Assert.False(clients.Container.CanGenerateSasUri); // no shared key anywhere on this path
    }

    [Theory]
    [InlineData("orleanscrates", true)]
    [InlineData("abc", true)]
    [InlineData("a-b-c-1", true)]
    [InlineData("ab", false)]
    [InlineData("Upper", false)]
    [InlineData("-abc", false)]
    [InlineData("abc-", false)]
    [InlineData("a--b", false)]
    [InlineData("a_b_c", false)]
    public void Container_names_follow_the_service_rules(string name, bool valid)
    {
        Assert.Equal(valid, AzureBlobStorageOptionsValidator.IsValidContainerName(name));
        Assert.False(AzureBlobStorageOptionsValidator.IsValidContainerName(new string('a', 64)));
    }

    [Fact]
    public void Exactly_one_of_connection_string_and_service_uri()
    {
        var validator = new AzureBlobStorageOptionsValidator();
        Assert.True(validator.Validate(null, new AzureBlobStorageOptions()).Failed);
        Assert.True(validator.Validate(null, new AzureBlobStorageOptions { ConnectionString = "UseDevelopmentStorage=true", ServiceUri = new Uri("https://a.blob.core.windows.net") }).Failed);
        Assert.True(validator.Validate(null, new AzureBlobStorageOptions { ConnectionString = "UseDevelopmentStorage=true" }).Succeeded);
        Assert.True(validator.Validate(null, new AzureBlobStorageOptions { ServiceUri = new Uri("https://a.blob.core.windows.net") }).Succeeded);
        Assert.True(validator.Validate(null, new AzureBlobStorageOptions { ServiceUri = new Uri("http://a.blob.core.windows.net") }).Failed); // bearer tokens need TLS
        Assert.True(validator.Validate(null, new AzureBlobStorageOptions { ConnectionString = "UseDevelopmentStorage=true", BlockSize = 100 }).Failed);
        Assert.True(validator.Validate(null, new AzureBlobStorageOptions { ConnectionString = "UseDevelopmentStorage=true", Container = "Bad_Name" }).Failed);
    }

    [Fact]
    public void Constructors_validate_their_options()
    {
        Assert.Throws<OptionsValidationException>(() => new AzureBlobObjectStore(new AzureBlobStorageOptions()));
        Assert.Throws<OptionsValidationException>(() => new AzureBlobObjectStore(new AzureBlobStorageOptions { ConnectionString = "UseDevelopmentStorage=true", Container = "UPPER" }));
    }

    [Fact]
    public void Registers_the_store_from_configuration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:AzureBlob:ConnectionString"] = "UseDevelopmentStorage=true",
            ["Storage:AzureBlob:Container"] = "mirror",
            ["Storage:AzureBlob:BlockSize"] = "65536",
        }).Build();
        using var provider = new ServiceCollection().AddLogging().AddAzureBlobObjectStore(configuration).BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();
        var store = Assert.IsType<AzureBlobObjectStore>(provider.GetRequiredService<IObjectStore>());
        Assert.Same(store, provider.GetRequiredService<AzureBlobObjectStore>());
        Assert.Equal(new Uri("http://127.0.0.1:10000/devstoreaccount1/mirror"), store.ContainerUri);
    }

    [Fact]
    public void Entra_id_configuration_needs_no_key()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:AzureBlob:ServiceUri"] = "https://acct.blob.core.windows.net",
        }).Build();
        using var provider = new ServiceCollection().AddLogging().AddAzureBlobObjectStore(configuration).BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();
        Assert.Equal(new Uri("https://acct.blob.core.windows.net/orleanscrates"), provider.GetRequiredService<AzureBlobObjectStore>().ContainerUri);
    }

    [Fact]
    public void Invalid_configuration_fails_on_start()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:AzureBlob:ConnectionString"] = "UseDevelopmentStorage=true",
            ["Storage:AzureBlob:ServiceUri"] = "https://acct.blob.core.windows.net",
            ["Storage:AzureBlob:Container"] = "x",
        }).Build();
        using var provider = new ServiceCollection().AddLogging().AddAzureBlobObjectStore(configuration).BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains(error.Failures, f => f.Contains("exactly one", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Container 'x'", StringComparison.Ordinal));
    }

    private sealed class FixedTokenCredential(string token) : TokenCredential
    {
        public List<string> Scopes { get; } = [];

        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            lock (Scopes)
            {
                Scopes.AddRange(requestContext.Scopes);
            }

            return new AccessToken(token, DateTimeOffset.UtcNow.AddHours(1));
        }

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }

    private sealed class RecordingTransport : HttpMessageHandler
    {
        public List<(string Uri, string? Authorization)> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (Requests)
            {
                Requests.Add((request.RequestUri!.ToString(), request.Headers.Authorization?.ToString()));
            }

            var response = new HttpResponseMessage(System.Net.HttpStatusCode.NotFound) { RequestMessage = request };
            response.Headers.Add("x-ms-error-code", "ContainerNotFound");
            return Task.FromResult(response);
        }
    }
}
