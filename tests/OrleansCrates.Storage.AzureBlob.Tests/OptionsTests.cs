using Azure.Core;
using Azure.Core.Pipeline;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace OrleansCrates.Storage.AzureBlob.Tests;

/// <summary>Configuration, connection strings and signing; no Azurite needed.</summary>
public sealed class OptionsTests
{
    private const string Key = StorageConnectionString.DevelopmentAccountKey;

    [Fact]
    public void Development_storage_is_azurite_path_style()
    {
        var parsed = StorageConnectionString.Parse("UseDevelopmentStorage=true");
        Assert.Equal(new Uri("http://127.0.0.1:10000/devstoreaccount1"), parsed.BlobEndpoint);
        Assert.Equal("devstoreaccount1", parsed.AccountName);
        Assert.Equal(Convert.FromBase64String(Key), parsed.AccountKey);
    }

    [Fact]
    public void Explicit_blob_endpoints_win()
    {
        var parsed = StorageConnectionString.Parse($"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={Key};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;");
        Assert.Equal(new Uri("http://127.0.0.1:10000/devstoreaccount1"), parsed.BlobEndpoint);
    }

    [Theory]
    [InlineData("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + Key + ";EndpointSuffix=core.windows.net", "https://acct.blob.core.windows.net/")]
    [InlineData("AccountName=acct;AccountKey=" + Key, "https://acct.blob.core.windows.net/")]
    [InlineData("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + Key + ";EndpointSuffix=core.chinacloudapi.cn", "https://acct.blob.core.chinacloudapi.cn/")]
    public void Endpoint_suffix_forms_make_the_account_endpoint(string connectionString, string endpoint)
    {
        var parsed = StorageConnectionString.Parse(connectionString);
        Assert.Equal(new Uri(endpoint), parsed.BlobEndpoint);
        Assert.Equal("acct", parsed.AccountName);
    }

    [Theory]
    [InlineData("AccountName=acct", "AccountKey is missing")]
    [InlineData("AccountKey=" + Key, "AccountName is missing")]
    [InlineData("AccountName=acct;AccountKey=not base64!", "not base64")]
    [InlineData("BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=sv=2021", "SAS")]
    [InlineData("AccountName=acct;AccountKey=" + Key + ";BlobEndpoint=ftp://x", "BlobEndpoint")]
    public void Bad_connection_strings_say_what_is_wrong(string connectionString, string reason)
    {
        Assert.False(StorageConnectionString.TryParse(connectionString, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, error, StringComparison.Ordinal);
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

    [Fact]
    public void Path_style_endpoints_name_the_account_twice_in_the_signed_resource()
    {
        var request = HttpPipelineBuilder.Build(new TestClientOptions()).CreateRequest();
        request.Method = RequestMethod.Put;
        request.Uri.Reset(new Uri("http://127.0.0.1:10000/devstoreaccount1/container"));
        request.Uri.AppendPath("/" + BlobRestClient.EscapeBlobName("crates/a/a-1.0.0+build.7.crate"), false);
        request.Uri.AppendQuery("comp", "lease", true);
        request.Headers.SetValue("x-ms-version", BlobRestClient.ServiceVersion);
        request.Headers.SetValue("x-ms-lease-action", "acquire");
        request.Headers.SetValue("If-None-Match", "*");

        var lines = SharedKeyPipelinePolicy.StringToSign("devstoreaccount1", request).Split('\n');

        Assert.Equal("PUT", lines[0]);
        Assert.Equal("*", lines[9]); // If-None-Match
        Assert.Equal(["x-ms-lease-action:acquire", "x-ms-version:2021-12-02"], lines[12..14]);
        Assert.Equal("/devstoreaccount1/devstoreaccount1/container/crates/a/a-1.0.0%2Bbuild.7.crate", lines[14]);
        Assert.Equal("comp:lease", lines[15]);
    }

    private sealed class TestClientOptions : ClientOptions;
}
