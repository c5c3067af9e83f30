#!/usr/bin/env python3
"""Attributes the manager's live heap to what holds it, from a heap profile
the bench wrote with -heap-profile (see bench/NOTES.md):

    go tool pprof -traces -inuse_space DIR/heap-1000.pb.gz > traces.txt
    python3 bench/heap_attribution.py traces.txt

A heap profile records where memory was allocated, not who keeps it: each
sampled stack goes to the first rule below that matches any of its frames.
The rules read the decoding frames (apps/v1.(*Deployment).Unmarshal, ...)
and the cache transforms, so an object counts for the informer that decoded
it. Sampling (one sample per 512 KiB allocated, on average) makes every
figure an estimate in steps of about 0.5 MiB."""
import re,sys,collections

def units(s):
    m=re.match(r'([\d.]+)([kMG]?B)?$',s)
    if not m: return None
    v=float(m.group(1)); u=m.group(2) or 'B'
    return v*{'B':1,'kB':1024,'MB':1024**2,'GB':1024**3}[u]

def has(fs,*subs): return any(s in f for f in fs for s in subs)

def classify(v,frames,size):
    if has(frames,'gitleaks','aho-corasick','internal/plaintext'):
        return 'plaintext guard: gitleaks detector (built once)'
    if has(frames,'secretMemo'):
        return 'Secret memo'
    if has(frames,'core/v1.(*Secret)') and has(frames,'BlueprintReconciler'):
        # Secrets a reconcile read or created: the memo keeps them (its
        # DeepCopy shares their strings), nothing else keeps a typed Secret.
        return 'Secret memo'
    if has(frames,'priorityqueue','workqueue'):
        return 'work queue'
    if has(frames,'StripWatchedMetadata','PartialObjectMetadata'):
        return 'stripped metadata informers (Secrets; Deployments+Services)'
    # What the cache transforms build is what the informers then hold
    # (the trimmed labels and annotations maps, operatorKeys); its stack
    # runs through the informer's queue, which holds none of it once the
    # store has it.
    if has(frames,'TrimCachedDeployment'):
        return 'Deployment informer (full objects)'
    if has(frames,'TrimCachedService'):
        return 'Service informer (full objects)'
    if has(frames,'apps/v1.(*Deployment','apps/v1.(*DeploymentList'):
        return 'Deployment informer (full objects)'
    if has(frames,'core/v1.(*Service).','core/v1.(*ServiceList'):
        return 'Service informer (full objects)'
    if has(frames,'protobuf.unmarshalToObject') and has(frames,'Scheme).New'):
        # The top-level struct: sizeof(Deployment) 1232 B (1.25kB class),
        # sizeof(Service) 592 B (640B class).
        if size=='1.25kB': return 'Deployment informer (full objects)'
        if size=='640B': return 'Service informer (full objects)'
        return 'typed informer object structs, size %s' % size
    if has(frames,'serializer/json.(*Serializer).Decode') and has(frames,'StreamWatcher','Reflector','ListWatch','cache/internal'):
        return 'Blueprint informer (full objects, JSON)'
    if has(frames,'StripBlueprintMetadata'):
        return 'Blueprint informer (full objects, JSON)'
    if has(frames,'threadSafeMap','storeIndex','tools/cache.(*cache).Replace'):
        return 'informer stores and indexes (all informers)'
    if has(frames,'DeltaFIFO','RealFIFO','Reflector','processorListener'):
        return 'informer queues/reflectors (in flight)'
    if has(frames,'restmapper','apiutil.(*mapper','discovery','DynamicRESTMapper'):
        return 'RESTMapper/discovery'
    if has(frames,'runtime.(*Scheme)','AddToScheme','SchemeBuilder'):
        return 'scheme'
    if has(frames,'encoding/json.typeFields','encoding/json.newTypeEncoder','runtime.fieldInfoFromField','reflect.addReflectOff'):
        return 'reflection caches (encoding/json, unstructured converter)'
    if has(frames,'BlueprintReconciler','internal/render','internal/controller.'):
        return 'reconciler (other, incl. in-flight)'
    if has(frames,'runtime.doInit','.init.','.init'):
        return 'package init (global state)'
    if has(frames,'net/http','http2','golang.org/x/net'):
        return 'HTTP clients/servers'
    if has(frames,'encoding/json','reflect.'):
        return 'encoding/json type caches'
    if has(frames,'zap','logr','klog'):
        return 'logging'
    return 'other'

def main(path, verbose=0):
    cats=collections.Counter(); sub=collections.Counter(); ex=collections.defaultdict(list)
    total=0
    txt=open(path).read().split('-----------+-------------------------------------------------------')
    for b in txt[1:]:
        lines=[l for l in b.strip('\n').split('\n') if l.strip()]
        if not lines or not lines[0].strip().startswith('bytes:'): continue
        size=lines[0].split(':',1)[1].strip()
        first=lines[1].split(); v=units(first[0])
        frames=[first[1]]+[l.strip() for l in lines[2:]]
        c=classify(v,frames,size); cats[c]+=v; total+=v
        if c.startswith(('Deployment informer','Service informer','Blueprint informer')):
            kind=c.split()[0]
            if has(frames,'operatorKeys'): part='labels and annotations kept (operatorKeys)'
            elif has(frames,'fieldSetTable','deflated'): part='our field set, deflated (fieldSetTable)'
            elif has(frames,'TrimCached'): part='the trimmed object (transform)'
            elif has(frames,'ManagedFieldsEntry'): part='managedFields'
            elif has(frames,'PodTemplateSpec'): part='spec.template'
            elif has(frames,'Status).Unmarshal'): part='status'
            elif has(frames,'ObjectMeta'): part='metadata (labels, annotations, ownerReferences, names)'
            elif has(frames,'Spec).Unmarshal'): part='spec (other)'
            elif has(frames,'Scheme).New'): part='the object struct'
            else: part='other (JSON decode)'
            sub[kind+': '+part]+=v
        ex[c].append((v,frames))
    for c,v in [(c,v) for c,v in cats.most_common() if v>0]:
        print('%7.2f MiB  %5.1f%%  %s'%(v/2**20,100*v/total,c))
    print('%7.2f MiB  total'%(total/2**20))
    print()
    for c,v in sorted(sub.items()):
        print('%7.2f MiB  %s'%(v/2**20,c))
    if verbose:
        for c in sys.argv[3:]:
            print('\n==',c)
            for v,f in sorted(ex[c],key=lambda x:-x[0])[:int(verbose)]:
                if v==0: break
                print('%.2f MiB'%(v/2**20),' <- '.join(f[:12]))
main(sys.argv[1], int(sys.argv[2]) if len(sys.argv)>2 else 0)
