// OrleansCrates on Azure: one cluster per region (Azure Container Apps), Azure Front Door sending each client to the
// nearest healthy region, and Blob Storage reached with a managed identity (no account keys anywhere).
//
//   az deployment group create -g RG -f bicep/main.bicep \
//     -p namePrefix=crates regions='["westeurope","eastus2"]' containerImage=myacr.azurecr.io/orleanscrates:1.0 \
//        contact=mailto:platform@example.com
//
// Storage: by default ONE storage account (in the first region) shared by every region's cluster. The private
// registry, tokens, approvals and download records live in storage and must be one consistent store (Blob Storage is
// strongly consistent within an account; geo-replicas are asynchronous and read-only), and cross-node coordination
// (blob leases, ETag-conditional writes) only works within one account. Far regions pay the round trip to that account
// on what their nodes do not hold in memory. `storagePerRegion=true` gives each region its own account instead: only
// for mirror-only deployments (no private crates, tokens or approvals), as each region is then a separate registry.
targetScope = 'resourceGroup'

@description('Prefix of every resource name (lower-case letters, digits, hyphens).')
@minLength(3)
@maxLength(12)
param namePrefix string

@description('Regions to run a cluster in; the first also holds the shared storage account and the identity.')
@minLength(1)
param regions array

@description('Container image of the server, e.g. myacr.azurecr.io/orleanscrates:1.0 (built from infra/Dockerfile).')
param containerImage string

@description('Login server of a private registry holding the image (the identity needs AcrPull on it); empty for a public image.')
param containerRegistryServer string = ''

@description('Fewest replicas per region; 1 or more keeps a warm node (the scale rule cannot wake a stopped app fast).')
@minValue(0)
param minReplicas int = 2

@description('Most replicas per region.')
@minValue(1)
@maxValue(300)
param maxReplicas int = 10

@description('Concurrent HTTP requests per replica above which another replica is added.')
@minValue(1)
param concurrentRequestsPerReplica int = 100

@description('The upstream sparse index (Mirror:Upstreams:0:IndexUrl).')
param upstreamIndexUrl string = 'https://index.crates.io/'

@description('Your contact (URL or e-mail) for the User-Agent crates.io asks mirrors to send (Mirror:UserAgentContact).')
param contact string

@description('Base URL clients use, e.g. https://crates.example.com (a custom domain on Front Door); empty: the Front Door endpoint.')
param publicUrl string = ''

@description('Webhook told when storage fails or the upstream keeps failing, and when each recovers (Alerts:WebhookUrl); empty: off.')
@secure()
param alertWebhookUrl string = ''

@description('One storage account per region (mirror-only deployments) instead of one shared by all regions.')
param storagePerRegion bool = false

@description('Blob container holding everything (Storage:AzureBlob:Container).')
param blobContainerName string = 'orleanscrates'

@description('Storage redundancy.')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS', 'Standard_RAGRS', 'Standard_RAGZRS'])
param storageSku string = 'Standard_ZRS'

param tags object = {}

var storageRegions = storagePerRegion ? regions : [regions[0]]

module storage 'modules/storage.bicep' = [for (region, i) in storageRegions: {
  name: 'storage-${region}'
  params: {
    name: take('${replace(namePrefix, '-', '')}${uniqueString(resourceGroup().id, region)}', 24)
    location: region
    containerName: blobContainerName
    skuName: storageSku
    tags: tags
  }
}]

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: '${namePrefix}-id'
    location: regions[0]
    storageAccountNames: [for i in range(0, length(storageRegions)): storage[i].outputs.name]
    tags: tags
  }
}

module frontDoorEndpoint 'modules/frontdoor-endpoint.bicep' = {
  name: 'frontdoor-endpoint'
  params: {
    profileName: '${namePrefix}-fd'
    endpointName: '${namePrefix}-${uniqueString(resourceGroup().id)}'
    tags: tags
  }
}

module cluster 'modules/containerapp.bicep' = [for (region, i) in regions: {
  name: 'cluster-${region}'
  params: {
    namePrefix: take('${namePrefix}-${region}', 26)
    location: region
    containerImage: containerImage
    containerRegistryServer: containerRegistryServer
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageBlobEndpoint: storage[storagePerRegion ? i : 0].outputs.blobEndpoint
    blobContainerName: blobContainerName
    minReplicas: minReplicas
    maxReplicas: maxReplicas
    concurrentRequestsPerReplica: concurrentRequestsPerReplica
    upstreamIndexUrl: upstreamIndexUrl
    contact: contact
    publicUrl: empty(publicUrl) ? 'https://${frontDoorEndpoint.outputs.hostName}' : publicUrl
    alertWebhookUrl: alertWebhookUrl
    tags: tags
  }
}]

module frontDoor 'modules/frontdoor.bicep' = {
  name: 'frontdoor'
  params: {
    profileName: frontDoorEndpoint.outputs.profileName
    endpointName: frontDoorEndpoint.outputs.endpointName
    originHostNames: [for i in range(0, length(regions)): cluster[i].outputs.fqdn]
  }
}

@description('Where cargo points: sparse+<this>/index/ (or your publicUrl).')
output frontDoorUrl string = 'https://${frontDoorEndpoint.outputs.hostName}'
output regionalUrls array = [for i in range(0, length(regions)): 'https://${cluster[i].outputs.fqdn}']
output storageAccounts array = [for i in range(0, length(storageRegions)): storage[i].outputs.name]
