// One region's AKS cluster: the silos' home. Workload identity (OIDC issuer + the webhook) lets the silo pods sign in to
// Azure as a user-assigned identity without any secret; the Key Vault CSI secrets-store driver brings the Redis key
// into the pods; Azure CNI overlay gives every pod a routable address in the cluster, which each silo advertises to the
// others (Cluster__AdvertisedAddress from the downward API). A system pool (tainted for system pods only) and a silo
// pool the cluster autoscaler grows when the HorizontalPodAutoscaler adds silos that no longer fit.
param name string
param location string
param vnetName string
param nodesSubnetId string

@description('Kubernetes version; empty: the region\'s default.')
param kubernetesVersion string = ''

param systemVmSize string
param siloVmSize string
param siloNodesMin int
param siloNodesMax int

@description('Availability zones for the node pools, e.g. [\'1\', \'2\', \'3\']; empty where the region has none.')
param zones array = []

@description('Entra object ids (users or groups) given "Azure Kubernetes Service RBAC Cluster Admin" (kubectl apply).')
param clusterAdminPrincipalIds array = []

@description('An Azure Container Registry in this resource group the nodes pull the image from; empty: none.')
param containerRegistryName string = ''

param tags object = {}

// Built-in roles.
var networkContributor = '4d97b98b-1d4f-4787-a291-c67834d212e7'
var aksRbacClusterAdmin = 'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b'
var acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

resource logs 'Microsoft.OperationalInsights/workspaces@2025-02-01' = {
  name: '${name}-logs'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

// The control plane's own identity, made first so it can be given Network Contributor on the virtual network before
// the cluster exists (the cloud provider creates the internal load balancer and the Private Link service there).
resource controlPlane 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: '${name}-control-plane'
  location: location
  tags: tags
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-07-01' existing = {
  name: vnetName
}

resource controlPlaneOnNetwork 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vnet.id, controlPlane.id, networkContributor)
  scope: vnet
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', networkContributor)
    principalId: controlPlane.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource cluster 'Microsoft.ContainerService/managedClusters@2025-07-01' = {
  name: name
  location: location
  tags: tags
  dependsOn: [
    controlPlaneOnNetwork
  ]
  sku: {
    name: 'Base'
    tier: 'Standard'
  }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${controlPlane.id}': {}
    }
  }
  properties: {
    kubernetesVersion: empty(kubernetesVersion) ? null : kubernetesVersion
    dnsPrefix: name
    nodeResourceGroup: '${resourceGroup().name}-${name}-nodes'
    enableRBAC: true
    disableLocalAccounts: true
    aadProfile: {
      managed: true
      enableAzureRBAC: true
    }
    oidcIssuerProfile: {
      enabled: true
    }
    securityProfile: {
      workloadIdentity: {
        enabled: true
      }
    }
    addonProfiles: {
      azureKeyvaultSecretsProvider: {
        enabled: true
        config: {
          enableSecretRotation: 'true'
          rotationPollInterval: '2m'
        }
      }
      omsagent: {
        enabled: true
        config: {
          logAnalyticsWorkspaceResourceID: logs.id
          useAADAuth: 'true'
        }
      }
    }
    networkProfile: {
      networkPlugin: 'azure'
      networkPluginMode: 'overlay'
      // Enforces infra/k8s/base/networkpolicy.yaml: only the silos reach each other's internal HTTP port.
      networkPolicy: 'calico'
      podCidr: '10.244.0.0/16'
      serviceCidr: '10.0.0.0/16'
      dnsServiceIP: '10.0.0.10'
      loadBalancerSku: 'standard'
      outboundType: 'loadBalancer'
    }
    autoUpgradeProfile: {
      upgradeChannel: 'patch'
      nodeOSUpgradeChannel: 'NodeImage'
    }
    agentPoolProfiles: [
      {
        name: 'system'
        mode: 'System'
        vmSize: systemVmSize
        count: 2
        // System pods only: the silos run on their own pool.
        nodeTaints: [
          'CriticalAddonsOnly=true:NoSchedule'
        ]
        osType: 'Linux'
        osSKU: 'AzureLinux'
        type: 'VirtualMachineScaleSets'
        vnetSubnetID: nodesSubnetId
        availabilityZones: empty(zones) ? null : zones
        maxPods: 110
      }
      {
        name: 'silos'
        mode: 'User'
        vmSize: siloVmSize
        count: siloNodesMin
        enableAutoScaling: true
        minCount: siloNodesMin
        maxCount: siloNodesMax
        osType: 'Linux'
        osSKU: 'AzureLinux'
        type: 'VirtualMachineScaleSets'
        vnetSubnetID: nodesSubnetId
        availabilityZones: empty(zones) ? null : zones
        maxPods: 110
        upgradeSettings: {
          maxSurge: '33%'
        }
      }
    ]
  }
}

// Container Insights with managed-identity sign-in: the agent sends what this rule names to the region's workspace
// (ContainerLogV2 holds the silos' JSON log lines).
var insightsStreams = [
  'Microsoft-ContainerLogV2'
  'Microsoft-KubeEvents'
  'Microsoft-KubePodInventory'
]

resource insightsRule 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: 'MSCI-${location}-${name}'
  location: location
  tags: tags
  kind: 'Linux'
  properties: {
    dataSources: {
      extensions: [
        {
          name: 'ContainerInsightsExtension'
          extensionName: 'ContainerInsights'
          streams: insightsStreams
          extensionSettings: {
            dataCollectionSettings: {
              interval: '1m'
              namespaceFilteringMode: 'Off'
              enableContainerLogV2: true
            }
          }
        }
      ]
    }
    destinations: {
      logAnalytics: [
        {
          name: 'workspace'
          workspaceResourceId: logs.id
        }
      ]
    }
    dataFlows: [
      {
        streams: insightsStreams
        destinations: [
          'workspace'
        ]
      }
    ]
  }
}

resource insightsForCluster 'Microsoft.Insights/dataCollectionRuleAssociations@2023-03-11' = {
  name: 'ContainerInsightsExtension'
  scope: cluster
  properties: {
    dataCollectionRuleId: insightsRule.id
  }
}

resource clusterAdmins 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in clusterAdminPrincipalIds: {
  name: guid(cluster.id, principalId, aksRbacClusterAdmin)
  scope: cluster
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', aksRbacClusterAdmin)
    principalId: principalId
  }
}]

resource registry 'Microsoft.ContainerRegistry/registries@2025-04-01' existing = if (!empty(containerRegistryName)) {
  name: empty(containerRegistryName) ? 'none' : containerRegistryName
}

resource kubeletPullsImages 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(containerRegistryName)) {
  name: guid(registry.id, cluster.id, acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPull)
    principalId: cluster.properties.identityProfile.kubeletidentity.objectId
    principalType: 'ServicePrincipal'
  }
}

output name string = cluster.name
output oidcIssuerUrl string = cluster.properties.oidcIssuerProfile.issuerURL
output nodeResourceGroup string = cluster.properties.nodeResourceGroup
