// One region's virtual network. The address plan is the same in every region (regions are never peered: each is its
// own Orleans cluster, and they meet only in storage and behind Front Door):
//   nodes         AKS nodes (pods get overlay addresses from 10.244.0.0/16, outside this network)
//   ingress       the silos' internal load balancer, at the fixed address `internalLoadBalancerIp`
//                 (infra/k8s/base/service.yaml asks for exactly this subnet and address)
//   private-link  the NAT addresses of the Private Link service Front Door connects through
param name string
param location string
param tags object = {}

resource vnet 'Microsoft.Network/virtualNetworks@2024-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        '10.10.0.0/16'
      ]
    }
    subnets: [
      {
        name: 'nodes'
        properties: {
          addressPrefix: '10.10.0.0/20'
        }
      }
      {
        name: 'ingress'
        properties: {
          addressPrefix: '10.10.16.0/24'
        }
      }
      {
        name: 'private-link'
        properties: {
          addressPrefix: '10.10.17.0/24'
          privateLinkServiceNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

output name string = vnet.name
output nodesSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'nodes')

@description('The internal load balancer\'s address (in the ingress subnet); Front Door\'s origin for this region names it.')
output internalLoadBalancerIp string = '10.10.16.10'
