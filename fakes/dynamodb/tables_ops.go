package dynamodb

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shardbridge/shardbridge/fakes/dynamodb/attr"
)

type attributeDefinition struct {
	AttributeName string `json:"AttributeName"`
	AttributeType string `json:"AttributeType"`
}

type keySchemaElement struct {
	AttributeName string `json:"AttributeName"`
	KeyType       string `json:"KeyType"`
}

type provisionedThroughput struct {
	ReadCapacityUnits  *int64 `json:"ReadCapacityUnits"`
	WriteCapacityUnits *int64 `json:"WriteCapacityUnits"`
}

type projectionSpec struct {
	ProjectionType   string   `json:"ProjectionType,omitempty"`
	NonKeyAttributes []string `json:"NonKeyAttributes,omitempty"`
}

type secondaryIndexInput struct {
	IndexName             string                 `json:"IndexName"`
	KeySchema             []keySchemaElement     `json:"KeySchema"`
	Projection            *projectionSpec        `json:"Projection"`
	ProvisionedThroughput *provisionedThroughput `json:"ProvisionedThroughput"`
}

type createTableInput struct {
	TableName                 string                 `json:"TableName"`
	AttributeDefinitions      []attributeDefinition  `json:"AttributeDefinitions"`
	KeySchema                 []keySchemaElement     `json:"KeySchema"`
	BillingMode               string                 `json:"BillingMode"`
	ProvisionedThroughput     *provisionedThroughput `json:"ProvisionedThroughput"`
	GlobalSecondaryIndexes    []secondaryIndexInput  `json:"GlobalSecondaryIndexes"`
	LocalSecondaryIndexes     []secondaryIndexInput  `json:"LocalSecondaryIndexes"`
	DeletionProtectionEnabled *bool                  `json:"DeletionProtectionEnabled"`
	StreamSpecification       *struct {
		StreamEnabled bool `json:"StreamEnabled"`
	} `json:"StreamSpecification"`
}

type throughputDescription struct {
	NumberOfDecreasesToday int64 `json:"NumberOfDecreasesToday"`
	ReadCapacityUnits      int64 `json:"ReadCapacityUnits"`
	WriteCapacityUnits     int64 `json:"WriteCapacityUnits"`
}

type billingModeSummary struct {
	BillingMode                       string  `json:"BillingMode"`
	LastUpdateToPayPerRequestDateTime float64 `json:"LastUpdateToPayPerRequestDateTime,omitempty"`
}

type indexDescription struct {
	IndexName             string                 `json:"IndexName"`
	KeySchema             []keySchemaElement     `json:"KeySchema"`
	Projection            projectionSpec         `json:"Projection"`
	IndexStatus           string                 `json:"IndexStatus,omitempty"`
	ProvisionedThroughput *throughputDescription `json:"ProvisionedThroughput,omitempty"`
	IndexSizeBytes        int64                  `json:"IndexSizeBytes"`
	ItemCount             int64                  `json:"ItemCount"`
	IndexArn              string                 `json:"IndexArn"`
}

type tableDescription struct {
	AttributeDefinitions      []attributeDefinition `json:"AttributeDefinitions"`
	TableName                 string                `json:"TableName"`
	KeySchema                 []keySchemaElement    `json:"KeySchema"`
	TableStatus               string                `json:"TableStatus"`
	CreationDateTime          float64               `json:"CreationDateTime"`
	ProvisionedThroughput     throughputDescription `json:"ProvisionedThroughput"`
	TableSizeBytes            int64                 `json:"TableSizeBytes"`
	ItemCount                 int64                 `json:"ItemCount"`
	TableArn                  string                `json:"TableArn"`
	TableId                   string                `json:"TableId"`
	BillingModeSummary        *billingModeSummary   `json:"BillingModeSummary,omitempty"`
	LocalSecondaryIndexes     []indexDescription    `json:"LocalSecondaryIndexes,omitempty"`
	GlobalSecondaryIndexes    []indexDescription    `json:"GlobalSecondaryIndexes,omitempty"`
	DeletionProtectionEnabled bool                  `json:"DeletionProtectionEnabled"`
}

type tableOutput struct {
	TableDescription *tableDescription `json:"TableDescription,omitempty"`
	Table            *tableDescription `json:"Table,omitempty"`
}

const (
	billingProvisioned   = "PROVISIONED"
	billingPayPerRequest = "PAY_PER_REQUEST"
)

func epochSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (e *Emulator) createTable(in *createTableInput) (*tableOutput, *apiError) {
	t, err := e.buildTable(in)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, exists := e.tables[in.TableName]; exists {
		return nil, inUseErr("Table already exists: " + in.TableName)
	}
	e.tables[in.TableName] = t
	e.log.Info("dynamodb table created", "table", in.TableName)
	d := t.describe("ACTIVE")
	return &tableOutput{TableDescription: d}, nil
}

// buildTable validates a CreateTable request the way DynamoDB does and
// returns the new, empty table.
func (e *Emulator) buildTable(in *createTableInput) (*table, *apiError) {
	if err := validateTableName(in.TableName); err != nil {
		return nil, err
	}
	defs := map[string]attr.Kind{}
	for i, d := range in.AttributeDefinitions {
		k, ok := attr.KindFromName(d.AttributeType)
		if !ok || (k != attr.KindS && k != attr.KindN && k != attr.KindB) {
			return nil, validationErr("1 validation error detected: Value '%s' at 'attributeDefinitions.%d.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]", d.AttributeType, i+1)
		}
		if _, dup := defs[d.AttributeName]; dup {
			return nil, validationErr("Cannot have two attributes with the same name")
		}
		defs[d.AttributeName] = k
	}
	used := map[string]bool{}
	hash, rng, err := parseKeySchema(in.KeySchema, defs, used)
	if err != nil {
		return nil, err
	}
	billing := in.BillingMode
	if billing == "" {
		billing = billingProvisioned
	}
	var read, write int64
	switch billing {
	case billingPayPerRequest:
		if in.ProvisionedThroughput != nil {
			return nil, validationErr("One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST")
		}
	case billingProvisioned:
		var perr *apiError
		if read, write, perr = checkThroughput(in.ProvisionedThroughput, "provisionedThroughput"); perr != nil {
			return nil, perr
		}
	default:
		return nil, validationErr("1 validation error detected: Value '%s' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]", in.BillingMode)
	}
	if in.StreamSpecification != nil && in.StreamSpecification.StreamEnabled {
		return nil, validationErr("DynamoDB Streams are not supported by this emulator")
	}
	now := e.clock.Now()
	n := e.tableIDs.Add(1)
	t := &table{
		name:     in.TableName,
		hash:     hash,
		rng:      rng,
		attrDefs: in.AttributeDefinitions,
		created:  now,
		billing:  billing,
		read:     read,
		write:    write,
		arn:      fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", e.region, e.account, in.TableName),
		id:       fmt.Sprintf("00000000-0000-4000-8000-%012d", n),
		protect:  in.DeletionProtectionEnabled != nil && *in.DeletionProtectionEnabled,
		indexes:  map[string]*indexDef{},
		parts:    map[string]*partition{},
	}
	if len(in.LocalSecondaryIndexes) > 0 && rng == nil {
		return nil, validationErr("One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex")
	}
	for _, spec := range in.LocalSecondaryIndexes {
		ix, err := t.buildIndex(spec, false, defs, used)
		if err != nil {
			return nil, err
		}
		if ix.hash != hash || ix.rng == nil {
			return nil, validationErr("One or more parameter values were invalid: Index KeySchema does not have the same leading hash key as table KeySchema for index: %s. index hash key: %s, table hash key: %s", ix.name, ix.hash.name, hash.name)
		}
		t.lsis = append(t.lsis, ix)
	}
	for _, spec := range in.GlobalSecondaryIndexes {
		ix, err := t.buildIndex(spec, true, defs, used)
		if err != nil {
			return nil, err
		}
		switch {
		case billing == billingPayPerRequest && spec.ProvisionedThroughput != nil:
			return nil, validationErr("One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: %s when BillingMode is PAY_PER_REQUEST", ix.name)
		case billing == billingProvisioned:
			if spec.ProvisionedThroughput == nil {
				return nil, validationErr("One or more parameter values were invalid: ProvisionedThroughput must be specified for index: %s", ix.name)
			}
			if ix.read, ix.write, err = checkThroughput(spec.ProvisionedThroughput, "globalSecondaryIndexes.member.provisionedThroughput"); err != nil {
				return nil, err
			}
		}
		t.gsis = append(t.gsis, ix)
	}
	if len(used) != len(defs) {
		return nil, validationErr("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
	}
	return t, nil
}

func checkThroughput(pt *provisionedThroughput, field string) (int64, int64, *apiError) {
	if pt == nil || pt.ReadCapacityUnits == nil || pt.WriteCapacityUnits == nil {
		return 0, 0, validationErr("One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED")
	}
	if *pt.ReadCapacityUnits < 1 {
		return 0, 0, validationErr("1 validation error detected: Value '%d' at '%s.readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1", *pt.ReadCapacityUnits, field)
	}
	if *pt.WriteCapacityUnits < 1 {
		return 0, 0, validationErr("1 validation error detected: Value '%d' at '%s.writeCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1", *pt.WriteCapacityUnits, field)
	}
	return *pt.ReadCapacityUnits, *pt.WriteCapacityUnits, nil
}

func parseKeySchema(ks []keySchemaElement, defs map[string]attr.Kind, used map[string]bool) (keyDef, *keyDef, *apiError) {
	switch {
	case len(ks) == 0:
		return keyDef{}, nil, validationErr("1 validation error detected: Value null at 'keySchema' failed to satisfy constraint: Member must not be null")
	case len(ks) > 2:
		return keyDef{}, nil, validationErr("1 validation error detected: Value '%d elements' at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2", len(ks))
	case ks[0].KeyType != "HASH":
		return keyDef{}, nil, validationErr("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
	case len(ks) == 2 && ks[1].KeyType != "RANGE":
		return keyDef{}, nil, validationErr("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
	case len(ks) == 2 && ks[0].AttributeName == ks[1].AttributeName:
		return keyDef{}, nil, validationErr("Both the Hash Key and the Range Key element in the KeySchema have the same name")
	}
	var names []string
	for _, k := range ks {
		if _, ok := defs[k.AttributeName]; !ok {
			var all []string
			for n := range defs {
				all = append(all, n)
			}
			sort.Strings(all)
			for _, k := range ks {
				names = append(names, k.AttributeName)
			}
			return keyDef{}, nil, validationErr("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]", strings.Join(names, ", "), strings.Join(all, ", "))
		}
		used[k.AttributeName] = true
	}
	hash := keyDef{name: ks[0].AttributeName, kind: defs[ks[0].AttributeName]}
	if len(ks) == 1 {
		return hash, nil, nil
	}
	return hash, &keyDef{name: ks[1].AttributeName, kind: defs[ks[1].AttributeName]}, nil
}

func (t *table) buildIndex(spec secondaryIndexInput, global bool, defs map[string]attr.Kind, used map[string]bool) (*indexDef, *apiError) {
	if len(spec.IndexName) < 3 || len(spec.IndexName) > 255 {
		return nil, validationErr("1 validation error detected: Value '%s' at 'indexName' failed to satisfy constraint: Member must have length greater than or equal to 3", spec.IndexName)
	}
	if _, dup := t.indexes[spec.IndexName]; dup {
		return nil, validationErr("One or more parameter values were invalid: Duplicate index name: %s", spec.IndexName)
	}
	hash, rng, err := parseKeySchema(spec.KeySchema, defs, used)
	if err != nil {
		return nil, err
	}
	if spec.Projection == nil {
		return nil, validationErr("1 validation error detected: Value null at 'projection' failed to satisfy constraint: Member must not be null")
	}
	switch spec.Projection.ProjectionType {
	case "ALL", "KEYS_ONLY":
		if len(spec.Projection.NonKeyAttributes) > 0 {
			return nil, validationErr("One or more parameter values were invalid: ProjectionType is %s, but NonKeyAttributes is specified", spec.Projection.ProjectionType)
		}
	case "INCLUDE":
		if len(spec.Projection.NonKeyAttributes) == 0 {
			return nil, validationErr("One or more parameter values were invalid: NonKeyAttributes must not be empty when ProjectionType is INCLUDE")
		}
	default:
		return nil, validationErr("One or more parameter values were invalid: Unknown ProjectionType: %s", spec.Projection.ProjectionType)
	}
	ix := &indexDef{
		name:       spec.IndexName,
		global:     global,
		hash:       hash,
		rng:        rng,
		projection: spec.Projection.ProjectionType,
		nonKey:     spec.Projection.NonKeyAttributes,
		arn:        t.arn + "/index/" + spec.IndexName,
	}
	t.indexes[ix.name] = ix
	return ix, nil
}

func keySchemaOf(hash keyDef, rng *keyDef) []keySchemaElement {
	ks := []keySchemaElement{{AttributeName: hash.name, KeyType: "HASH"}}
	if rng != nil {
		ks = append(ks, keySchemaElement{AttributeName: rng.name, KeyType: "RANGE"})
	}
	return ks
}

// describe renders the table's description; ItemCount and TableSizeBytes
// are live (AWS refreshes them about every six hours).
func (t *table) describe(status string) *tableDescription {
	t.mu.RLock()
	count, size := t.count, t.bytes
	t.mu.RUnlock()
	d := &tableDescription{
		AttributeDefinitions:      t.attrDefs,
		TableName:                 t.name,
		KeySchema:                 keySchemaOf(t.hash, t.rng),
		TableStatus:               status,
		CreationDateTime:          epochSeconds(t.created),
		ProvisionedThroughput:     throughputDescription{ReadCapacityUnits: t.read, WriteCapacityUnits: t.write},
		TableSizeBytes:            size,
		ItemCount:                 count,
		TableArn:                  t.arn,
		TableId:                   t.id,
		BillingModeSummary:        &billingModeSummary{BillingMode: t.billing},
		DeletionProtectionEnabled: t.protect,
	}
	if t.billing == billingPayPerRequest {
		d.BillingModeSummary.LastUpdateToPayPerRequestDateTime = epochSeconds(t.created)
	}
	for _, ix := range t.lsis {
		d.LocalSecondaryIndexes = append(d.LocalSecondaryIndexes, t.describeIndex(ix))
	}
	for _, ix := range t.gsis {
		d.GlobalSecondaryIndexes = append(d.GlobalSecondaryIndexes, t.describeIndex(ix))
	}
	return d
}

func (t *table) describeIndex(ix *indexDef) indexDescription {
	items := t.indexItems(ix)
	var size int64
	for _, s := range items {
		size += int64(s.size)
	}
	d := indexDescription{
		IndexName:      ix.name,
		KeySchema:      keySchemaOf(ix.hash, ix.rng),
		Projection:     projectionSpec{ProjectionType: ix.projection, NonKeyAttributes: ix.nonKey},
		IndexSizeBytes: size,
		ItemCount:      int64(len(items)),
		IndexArn:       ix.arn,
	}
	if ix.global {
		d.IndexStatus = "ACTIVE"
		d.ProvisionedThroughput = &throughputDescription{ReadCapacityUnits: ix.read, WriteCapacityUnits: ix.write}
	}
	return d
}

type tableNameInput struct {
	TableName string `json:"TableName"`
}

func (e *Emulator) describeTable(in *tableNameInput) (*tableOutput, *apiError) {
	t, err := e.table(in.TableName)
	if err != nil {
		if err.typ == dynamoPrefix+"ResourceNotFoundException" {
			err.msg = "Requested resource not found: Table: " + in.TableName + " not found"
		}
		return nil, err
	}
	return &tableOutput{Table: t.describe("ACTIVE")}, nil
}

func (e *Emulator) deleteTable(in *tableNameInput) (*tableOutput, *apiError) {
	if err := validateTableName(in.TableName); err != nil {
		return nil, err
	}
	name := tableNameFromARN(in.TableName)
	e.mu.Lock()
	t := e.tables[name]
	if t == nil {
		e.mu.Unlock()
		return nil, notFoundErr("Requested resource not found: Table: " + in.TableName + " not found")
	}
	if t.protect {
		e.mu.Unlock()
		return nil, validationErr("Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.")
	}
	delete(e.tables, name)
	e.mu.Unlock()
	e.log.Info("dynamodb table deleted", "table", name)
	return &tableOutput{TableDescription: t.describe("DELETING")}, nil
}

type listTablesInput struct {
	ExclusiveStartTableName string `json:"ExclusiveStartTableName"`
	Limit                   *int   `json:"Limit"`
}

type listTablesOutput struct {
	TableNames             []string `json:"TableNames"`
	LastEvaluatedTableName string   `json:"LastEvaluatedTableName,omitempty"`
}

func (e *Emulator) listTables(in *listTablesInput) (*listTablesOutput, *apiError) {
	limit := 100
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 100 {
			return nil, validationErr("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100", *in.Limit)
		}
		limit = *in.Limit
	}
	e.mu.RLock()
	names := make([]string, 0, len(e.tables))
	for n := range e.tables {
		if n > in.ExclusiveStartTableName {
			names = append(names, n)
		}
	}
	e.mu.RUnlock()
	sort.Strings(names)
	out := &listTablesOutput{TableNames: names}
	if len(names) > limit {
		out.TableNames = names[:limit]
		out.LastEvaluatedTableName = names[limit-1]
	}
	return out, nil
}

func tableNameFromARN(name string) string {
	if strings.HasPrefix(name, "arn:") {
		if i := strings.Index(name, ":table/"); i >= 0 {
			name = name[i+len(":table/"):]
			if j := strings.IndexByte(name, '/'); j >= 0 {
				name = name[:j]
			}
		}
	}
	return name
}
