"""Words the demo clinic is made of: names, places, allergies, visit stories. Data only."""


def _words(text):
    return [w.strip() for w in text.split(",") if w.strip()]


# region -> (weight, female first names, male first names, family names). A New York practice:
# a first name and a family name usually come from the same region; some patients mix them.
NAMES = {
    "anglo": (30, _words("Emma, Olivia, Ava, Sophia, Abigail, Emily, Hannah, Madison, Grace, Chloe, Ruth, Margaret, "
                         "Linda, Barbara, Susan, Karen, Megan, Brittany, Dorothy, Shirley, Kayla"),
              _words("James, Michael, Robert, William, David, John, Thomas, Daniel, Matthew, Andrew, Ethan, Noah, "
                     "Liam, Benjamin, Harold, Walter, Kevin, Tyler, Gerald, Logan"),
              _words("Smith, Johnson, Williams, Brown, Jones, Miller, Davis, Wilson, Anderson, Taylor, Moore, "
                     "Thompson, White, Harris, Clark, Lewis, Walker, Hall, Young, King, Wright, Scott, Green, Baker, "
                     "Adams, Campbell, Mitchell, Roberts, Carter, Evans, Turner, Parker, Collins, Murphy, O'Brien, "
                     "Sullivan, Kelly, McCarthy, Fitzgerald")),
    "hispanic": (20, _words("María, Lucía, Camila, Valentina, Sofía, Isabella, Guadalupe, Rosa, Carmen, Ana, "
                            "Gabriela, Daniela, Ximena, Yesenia"),
                 _words("José, Luis, Carlos, Juan, Miguel, Alejandro, Diego, Javier, Santiago, Mateo, Jorge, "
                        "Ricardo, Andrés, Héctor"),
                 _words("García, Rodríguez, Martínez, Hernández, López, González, Pérez, Sánchez, Ramírez, "
                        "Torres, Flores, Rivera, Gómez, Díaz, Morales, Reyes, Cruz, Ortiz, Gutiérrez, Chávez, "
                        "Vargas, Castillo, Romero, Mendoza, Peña")),
    "west_african": (8, _words("Adaeze, Chiamaka, Ngozi, Folake, Abena, Ama, Aisha, Fatoumata, Efua, Yetunde, Amara"),
                     _words("Chukwuemeka, Kwame, Kofi, Emeka, Tunde, Babajide, Ibrahima, Mamadou, Yaw, Obinna, Segun"),
                     _words("Okafor, Adeyemi, Okonkwo, Mensah, Asante, Diallo, Nwosu, Balogun, Owusu, Boateng, Eze, "
                            "Adebayo, Traoré, Ogunleye, Danso")),
    "chinese": (8, _words("Mei, Xiuying, Lina, Yan, Jing, Hui, Wen, Xiaoling"),
                _words("Wei, Jian, Hao, Ming, Jun, Lei, Zhihao, Yong"),
                _words("Wang, Li, Zhang, Liu, Chen, Yang, Huang, Zhao, Wu, Zhou, Lin, Guo")),
    "korean": (4, _words("Ji-woo, Seo-yeon, Min-ji, Soo-ah, Hye-jin"),
               _words("Min-jun, Seo-jun, Ji-ho, Dong-hyun, Sung-min"),
               _words("Kim, Lee, Park, Choi, Jung, Kang, Cho, Yoon")),
    "japanese": (3, _words("Yui, Aoi, Sakura, Haruka, Yuki, Emi"),
                 _words("Haruto, Ren, Takumi, Kenji, Hiroshi, Daiki"),
                 _words("Sato, Suzuki, Takahashi, Tanaka, Watanabe, Ito, Yamamoto, Nakamura, Kobayashi")),
    "vietnamese": (3, _words("Linh, Thảo, Ngọc Anh, Hương, Mai"),
                   _words("Minh, Tuấn, Huy, Quang, Đức"),
                   _words("Nguyễn, Trần, Lê, Phạm, Hoàng, Vũ, Đặng")),
    "south_asian": (10, _words("Priya, Ananya, Aarohi, Diya, Kavya, Lakshmi, Sunita, Fatima, Ayesha, Nusrat"),
                    _words("Arjun, Rohan, Vikram, Aarav, Rahul, Sanjay, Imran, Farhan, Ravi, Harpreet"),
                    _words("Patel, Sharma, Singh, Gupta, Reddy, Iyer, Khan, Chowdhury, Rahman, Nair, Desai, Mehta, "
                           "Banerjee")),
    "mena": (6, _words("Layla, Noor, Yasmin, Mariam, Zainab, Leila, Salma, Elif"),
             _words("Omar, Yousef, Ahmed, Karim, Hassan, Tariq, Samir, Mehmet"),
             _words("Haddad, Khoury, Mansour, Nasser, Saleh, Hamdan, El-Sayed, Aziz, Yılmaz, Demir, Kaya, Farah")),
    "european": (8, _words("Sofie, Ingrid, Freja, Élise, Chloé, Giulia, Francesca, Anna, Katarzyna, Agnieszka, Zoë, "
                           "Léa, Magdalena, Natalia"),
                 _words("Lars, Søren, Mikael, Jonas, Lukas, Matthias, Luca, Giovanni, Marco, Pierre, Étienne, "
                        "Łukasz, Piotr, Tomasz, Nikos"),
                 _words("Müller, Schmidt, Weber, Rossi, Russo, Bianchi, Ferrari, Dubois, Lefèvre, Moreau, Kowalski, "
                        "Nowak, Wiśniewski, Jensen, Nielsen, Andersson, Johansson, Novák, Popescu, Papadopoulos, "
                        "De Vries, Janssen, O'Connor")),
}

# (area codes, format): US numbers in the 555-01xx range reserved for fiction.
US_AREA_CODES = (212, 347, 646, 718, 917, 929, 201, 914)
PHONE_FORMATS = ("({area}) 555-{line}", "{area}-555-{line}", "+1 {area} 555 {line}")
UK_PHONE = "+44 20 7946 {line}"  # Ofcom's range for drama
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

STREETS = _words("Maple Avenue, Atlantic Avenue, Bedford Avenue, Court Street, Flatbush Avenue, Ocean Parkway, "
                 "Union Street, Amsterdam Avenue, Lexington Avenue, Roosevelt Avenue, Queens Boulevard, "
                 "Grand Concourse, Nostrand Avenue, Myrtle Avenue, Steinway Street, Palisade Avenue")
CITIES = (("Brooklyn", "NY", "112"), ("Queens", "NY", "113"), ("New York", "NY", "100"), ("Bronx", "NY", "104"),
          ("Jersey City", "NJ", "073"), ("Hoboken", "NJ", "070"))

# (substance, reaction, severity)
ALLERGIES = (
    ("Penicillin", "Hives", "moderate"), ("Amoxicillin", "Rash", "mild"), ("Sulfonamides", "Rash", "moderate"),
    ("Aspirin", "Wheezing", "moderate"), ("Ibuprofen", "Stomach upset", "mild"), ("Codeine", "Vomiting", "mild"),
    ("Latex", "Contact dermatitis", "mild"), ("Peanuts", "Anaphylaxis", "severe"),
    ("Tree nuts", "Lip swelling", "severe"),
    ("Shellfish", "Hives", "moderate"), ("Eggs", "Eczema flare", "mild"), ("Bee stings", "Anaphylaxis", "severe"),
    ("Iodinated contrast", "Flushing", "moderate"), ("Cats", "Sneezing", "mild"),
)
ALERTS = (
    "Needs a Spanish interpreter",
    "Hard of hearing: face the patient when speaking",
    "Fall risk: help onto the examination table",
    "On warfarin: check INR before any procedure",
    "Pacemaker: no MRI",
    "Type 1 diabetes: check glucose if drowsy or confused",
    "Prefers a female clinician",
    "Severe needle phobia: offer numbing cream",
    "Anaphylaxis to peanuts: EpiPen carried",
    "Uses a wheelchair: book the ground-floor room",
)
NOTES = ("Prefers morning appointments.", "Works night shifts; call after 2 pm.", "Guardian: mother, same phone.",
         "Moved from Chicago last year; old records requested.", "Prefers text messages over calls.")
CANCEL_REASONS = ("Patient called to cancel", "Feeling better", "Work conflict",
                  "Doctor unavailable: clinic rescheduled", "Transport problem")

# Visit stories: (who, reason, diagnosis, ICD-10-CM code, subjective, objective, assessment, plan, kind).
# who: "child" (< 18), "adult", "any"; kind shapes the vitals: "fever", "bp", "resp" or "".
VISITS = (
    ("adult", "Blood pressure follow-up", "Essential (primary) hypertension", "I10",
     "No headaches or chest pain. Taking lisinopril daily.", "Heart sounds normal, no oedema.",
     "Hypertension, not yet at target.", "Increase lisinopril to 20 mg daily; home BP log; review in 4 weeks.", "bp"),
    ("adult", "Diabetes review", "Type 2 diabetes mellitus without complications", "E11.9",
     "Checks sugars most mornings (6.5-8 mmol/L). No hypos.", "Feet: pulses present, sensation intact.",
     "Type 2 diabetes, fair control.", "Continue metformin; HbA1c and lipids; diet advice given.", ""),
    ("any", "Cough and fever", "Acute upper respiratory infection, unspecified", "J06.9",
     "Three days of cough, runny nose and fever.", "Throat mildly red, chest clear.",
     "Viral upper respiratory infection.", "Fluids, rest, paracetamol; return if breathless.", "fever"),
    ("any", "Sore throat", "Acute pharyngitis, unspecified", "J02.9",
     "Sore throat for two days, painful swallowing.", "Tonsils enlarged, no exudate; rapid strep negative.",
     "Viral pharyngitis.", "Salt-water gargles, analgesia; review if not better in 5 days.", "fever"),
    ("adult", "Back pain", "Low back pain, unspecified", "M54.50",
     "Low back pain after lifting boxes a week ago; no leg symptoms.",
     "Paraspinal tenderness, straight-leg raise negative.",
     "Mechanical low back pain.", "Stay active, ibuprofen as needed, physiotherapy referral.", ""),
    ("adult", "Burning on urination", "Urinary tract infection, site not specified", "N39.0",
     "Two days of burning and frequency, no fever.", "Dipstick: leucocytes and nitrites positive.",
     "Uncomplicated lower urinary tract infection.",
     "Nitrofurantoin 100 mg twice daily for 5 days; urine culture.", ""),
    ("adult", "Headaches", "Migraine without aura, not intractable", "G43.009",
     "Throbbing one-sided headaches twice a month with nausea.", "Neurological examination normal.",
     "Migraine without aura.", "Sumatriptan at onset; headache diary; review in 2 months.", ""),
    ("adult", "Low mood", "Major depressive disorder, single episode, mild", "F32.0",
     "Low mood and poor sleep for six weeks since losing job.", "PHQ-9 score 11. No thoughts of self-harm.",
     "Mild depressive episode.", "Talking therapy referral; sleep hygiene; follow up in 2 weeks.", ""),
    ("adult", "Anxiety", "Generalized anxiety disorder", "F41.1",
     "Constant worry, tension and trouble sleeping for months.", "GAD-7 score 13.",
     "Generalised anxiety disorder.", "CBT referral; discussed sertraline; review in 4 weeks.", ""),
    ("any", "Wheezing", "Mild intermittent asthma, uncomplicated", "J45.20",
     "Wheeze with exercise and colds, uses inhaler twice a month.", "Scattered wheeze, peak flow 85% of predicted.",
     "Mild intermittent asthma.", "Salbutamol as needed; inhaler technique checked; asthma action plan.", "resp"),
    ("child", "Ear pain", "Otitis media, unspecified, unspecified ear", "H66.90",
     "Ear pain since last night, pulling at the ear, fever.", "Right tympanic membrane red and bulging.",
     "Acute otitis media.", "Amoxicillin for 7 days; paracetamol; review if not better in 48 h.", "fever"),
    ("child", "Well-child visit", "Encounter for routine child health examination without abnormal findings",
     "Z00.129", "Growing well, eating well, vaccinations up to date.",
     "Growth on the 50th centile; examination normal.",
     "Healthy child.", "Routine vaccinations given; next check in 12 months.", ""),
    ("adult", "Annual physical", "Encounter for general adult medical examination without abnormal findings",
     "Z00.00", "No complaints. Exercises twice a week.", "Examination normal.",
     "Healthy adult.", "Fasting lipids and glucose; colorectal screening discussed.", ""),
    ("adult", "Cholesterol results", "Hyperlipidemia, unspecified", "E78.5",
     "Here to discuss cholesterol results; no chest pain.", "LDL 4.6 mmol/L; BMI 29.",
     "Hyperlipidaemia; 10-year risk 12%.", "Start atorvastatin 20 mg; diet and exercise; lipids in 3 months.", ""),
    ("adult", "Heartburn", "Gastro-esophageal reflux disease without esophagitis", "K21.9",
     "Burning behind the breastbone after meals and at night.", "Abdomen soft, epigastric tenderness.",
     "Gastro-oesophageal reflux.", "Omeprazole 20 mg daily for 8 weeks; avoid late meals.", ""),
    ("any", "Itchy rash", "Atopic dermatitis, unspecified", "L20.9",
     "Itchy dry patches on elbows and knees, worse in winter.", "Eczematous plaques in flexures.",
     "Atopic eczema.", "Emollients, hydrocortisone 1% for flares.", ""),
    ("adult", "Tiredness", "Iron deficiency anemia, unspecified", "D50.9",
     "Tired for two months, heavy periods.", "Pale conjunctivae; Hb 10.1 g/dL, ferritin low.",
     "Iron deficiency anaemia.", "Ferrous sulfate daily; repeat blood count in 6 weeks.", ""),
    ("adult", "Thyroid check", "Hypothyroidism, unspecified", "E03.9",
     "Feeling cold and sluggish; on levothyroxine 50 mcg.", "TSH 6.8 mU/L.",
     "Under-replaced hypothyroidism.", "Increase levothyroxine to 75 mcg; TSH in 6 weeks.", ""),
    ("any", "Flu symptoms", "Influenza due to unidentified influenza virus with other respiratory manifestations",
     "J11.1", "Sudden fever, aches and dry cough since yesterday.", "Febrile, chest clear.",
     "Influenza-like illness.", "Rest, fluids, antipyretics; isolate until fever-free for 24 h.", "fever"),
    ("adult", "Ankle injury", "Sprain of unspecified ligament of right ankle, initial encounter", "S93.401A",
     "Twisted right ankle playing football yesterday.", "Swelling over lateral malleolus; Ottawa rules negative.",
     "Lateral ankle sprain.", "Rest, ice, compression, elevation; ibuprofen; physio if not better in 2 weeks.", ""),
)

