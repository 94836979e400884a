// OrleansCrates on Azure: one Orleans cluster per region, each on its own AKS cluster; Azure Front Door sending each
// client to the nearest healthy region; one storage account shared by every region.
//
// Each region gets: a virtual network, an AKS cluster (workload identity, Key Vault CSI driver, cluster autoscaler),
// the silos' user-assigned identity federated with the cluster's service account, a Key Vault holding the Redis
// connection string, and an Azure Managed Redis (durable) for the cluster's Orleans membership table. The silos
// themselves are the Kubernetes manifests in infra/k8s/ (kubectl apply -k), configured from this template's
// `regions[i].settings` and `regions[i].workloadIdentity` outputs.
//
// Regions are separate Orleans clusters that share storage (the Orleans FAQ's advice against one cluster across
// regions): inside a region one grain per crate does each fetch once; across regions the create-only writes to the
// shared storage account make a second region's fetch of the same file a no-op (see README, "AKS deployment").
//
// Deployed in two passes, because Front Door's origins are the Private Link services AKS creates for the silos'
// Service: 1) this template, 2) kubectl apply -k per region, 3) this template again with connectFrontDoor=true, then
// approve each region's pending private endpoint connection (README, "AKS deployment").
targetScope = 'resourceGroup'

@description('Prefix of every resource name (lower-case letters, digits, hyphens; starts with a letter).')
@minLength(3)
@maxLength(11)
param namePrefix string

@description('Regions to run a cluster in; the first also holds the shared storage account.')
@minLength(1)
param regions array

@description('Your contact (URL or e-mail) for the User-Agent crates.io asks mirrors to send (Mirror:UserAgentContact).')
param contact string

@description('The upstream sparse index (Mirror:Upstreams:0:IndexUrl).')
param upstreamIndexUrl string = 'https://index.crates.io/'

@description('Base URL clients use, e.g. https://crates.example.com (a custom domain on Front Door); empty: the Front Door endpoint.')
param publicUrl string = ''

@description('Second pass: connect Front Door to each region\'s Private Link service (exists once the manifests are applied).')
param connectFrontDoor bool = false

@description('Webhook told when storage fails or the upstream keeps failing (Alerts:WebhookUrl), kept in each region\'s Key Vault; empty: off. Also add infra/k8s/components/alerts-webhook to the overlay.')
@secure()
param alertWebhookUrl string = ''

@description('Blob container holding everything (Storage:AzureBlob:Container).')
param blobContainerName string = 'orleanscrates'

@description('Storage redundancy.')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS', 'Standard_RAGRS', 'Standard_RAGZRS'])
param storageSku string = 'Standard_ZRS'

@description('Azure Managed Redis SKU of each region\'s membership store.')
param redisSku string = 'Balanced_B1'

@description('Kubernetes version of the clusters; empty: the region\'s default.')
param kubernetesVersion string = ''

@description('VM size of the system node pool (2 nodes, system pods only).')
param systemVmSize string = 'Standard_D2ds_v5'

@description('VM size of the silo node pool.')
param siloVmSize string = 'Standard_D4ds_v5'

@description('Fewest silo nodes per region (the cluster autoscaler adds nodes when silo pods no longer fit).')
@minValue(1)
param siloNodesMin int = 2

@description('Most silo nodes per region.')
@minValue(1)
@maxValue(1000)
param siloNodesMax int = 10

@description('Availability zones for the node pools, e.g. [\'1\', \'2\', \'3\']; empty where a region has none.')
param zones array = []

@description('Entra object ids (users or groups) made cluster admins (Azure RBAC for Kubernetes), to run kubectl apply.')
param clusterAdminPrincipalIds array = []

@description('An Azure Container Registry in this resource group holding the image (the nodes get AcrPull); empty: none.')
param containerRegistryName string = ''

@description('The silos\' namespace and service account: infra/k8s/base (the federated credential names exactly these).')
param kubernetesNamespace string = 'orleanscrates'
param serviceAccountName string = 'orleanscrates-silo'

@description('Name AKS gives the silos\' Private Link service (infra/k8s/base/service.yaml, azure-pls-name).')
param privateLinkServiceName string = 'orleanscrates'

@description('Key Vault secret holding the Redis connection string (infra/k8s/base/secretproviderclass.yaml).')
param redisSecretName string = 'redis-connection-string'

param tags object = {}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take('${replace(namePrefix, '-', '')}${uniqueString(resourceGroup().id)}', 24)
    location: regions[0]
    containerName: blobContainerName
    skuName: storageSku
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

module network 'modules/network.bicep' = [for region in regions: {
  name: 'network-${region}'
  params: {
    name: '${namePrefix}-${region}-vnet'
    location: region
    tags: tags
  }
}]

module aks 'modules/aks.bicep' = [for (region, i) in regions: {
  name: 'aks-${region}'
  params: {
    name: '${namePrefix}-${region}'
    location: region
    vnetName: network[i].outputs.name
    nodesSubnetId: network[i].outputs.nodesSubnetId
    kubernetesVersion: kubernetesVersion
    systemVmSize: systemVmSize
    siloVmSize: siloVmSize
    siloNodesMin: siloNodesMin
    siloNodesMax: siloNodesMax
    zones: zones
    clusterAdminPrincipalIds: clusterAdminPrincipalIds
    containerRegistryName: containerRegistryName
    tags: tags
  }
}]

module siloIdentity 'modules/identity.bicep' = [for (region, i) in regions: {
  name: 'identity-${region}'
  params: {
    name: '${namePrefix}-${region}-silo'
    location: region
    oidcIssuerUrl: aks[i].outputs.oidcIssuerUrl
    kubernetesNamespace: kubernetesNamespace
    serviceAccountName: serviceAccountName
    storageAccountName: storage.outputs.name
    tags: tags
  }
}]

module keyVault 'modules/keyvault.bicep' = [for (region, i) in regions: {
  name: 'keyvault-${region}'
  params: {
    name: take('${namePrefix}${uniqueString(resourceGroup().id, region)}', 24)
    location: region
    readerPrincipalId: siloIdentity[i].outputs.principalId
    alertWebhookUrl: alertWebhookUrl
    tags: tags
  }
}]

module redis 'modules/redis.bicep' = [for (region, i) in regions: {
  name: 'redis-${region}'
  params: {
    name: '${namePrefix}-${uniqueString(resourceGroup().id, region)}'
    location: region
    skuName: redisSku
    keyVaultName: keyVault[i].outputs.name
    secretName: redisSecretName
    tags: tags
  }
}]

module frontDoor 'modules/frontdoor.bicep' = if (connectFrontDoor) {
  name: 'frontdoor'
  params: {
    profileName: frontDoorEndpoint.outputs.profileName
    endpointName: frontDoorEndpoint.outputs.endpointName
    origins: [for (region, i) in regions: {
      region: region
      hostName: network[i].outputs.internalLoadBalancerIp
      privateLinkServiceId: resourceId(aks[i].outputs.nodeResourceGroup, 'Microsoft.Network/privateLinkServices', privateLinkServiceName)
    }]
  }
}

var servedAt = empty(publicUrl) ? 'https://${frontDoorEndpoint.outputs.hostName}' : publicUrl

@description('Where cargo points: sparse+<this>/index/.')
output frontDoorUrl string = servedAt

@description('Per region: the AKS cluster, and what infra/k8s/overlays/region needs (settings.env, workload-identity.env; README).')
output regions array = [for (region, i) in regions: {
  region: region
  aksName: aks[i].outputs.name
  nodeResourceGroup: aks[i].outputs.nodeResourceGroup
  redisHostName: redis[i].outputs.hostName
  // Plain settings of this region's silos (Section__Key environment variables): nothing secret goes here.
  settings: {
    Storage__AzureBlob__ServiceUri: storage.outputs.blobEndpoint
    Storage__AzureBlob__Container: blobContainerName
    Mirror__PublicUrl: servedAt
    Mirror__UserAgentContact: contact
    Mirror__Upstreams__0__IndexUrl: upstreamIndexUrl
    Cluster__ClusterId: '${namePrefix}-${region}'
  }
  // Where the pods' identity and secrets come from (the service account annotation, the SecretProviderClass).
  workloadIdentity: {
    clientId: siloIdentity[i].outputs.clientId
    tenantId: keyVault[i].outputs.tenantId
    keyVaultName: keyVault[i].outputs.name
  }
}]

output storageAccount string = storage.outputs.name
